"""The docker layer: the one door to the docker CLI, its parsers and its typed models."""
