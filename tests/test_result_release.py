"""build_result(release_log=True) frees the log's columns as the tables take them, and the
tables are the same as when the log is kept (the 10^7-request run's memory depends on it)."""

import pandas as pd
import pytest

from sim.results.result import build_result
from sim.runtime.run import run
from sim.scenario.load import load_scenario


@pytest.mark.parametrize(
    "name",
    [
        "nodeport-basic",  # no retries: the log's columns are freed
        "clusterip-tiers",  # calls between Services: parent ids
        "traffic-ramp",  # a retrying client: the tries table keeps the log whole
    ],
)
def test_released_log_gives_the_same_tables(name: str) -> None:
    scenario = load_scenario(f"scenarios/{name}.yaml").with_overrides(seed=7, duration_s=20.0)
    kept = build_result(run(scenario, 7))
    record = run(scenario, 7)
    released = build_result(record, release_log=True)
    pd.testing.assert_frame_equal(released.requests, kept.requests, check_exact=True)
    pd.testing.assert_frame_equal(released.pods, kept.pods, check_exact=True)
    if kept.tries is not None:
        assert released.tries is not None
        pd.testing.assert_frame_equal(released.tries, kept.tries, check_exact=True)
    else:
        assert len(record.log.client_ip) == 0 and len(record.log.pod) == 0  # freed
    assert released.summary == kept.summary
