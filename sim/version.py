"""svcsim's version: one place, read by the package metadata and written into every summary."""

VERSION = "0.2.0"
