"""Pure renderers: data in, Rich renderables or JSON documents out. Nothing here prints."""
