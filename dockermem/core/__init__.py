"""The async core: it asks the docker layer, returns frozen dataclasses, and never prints."""
