"""The HTTP surface: the Lookout for Vision wire protocol (REST-JSON 2020-11-20), driven by the API model."""
