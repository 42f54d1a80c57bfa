"""The node editor's parts: palette, block search, scene and view, clipboard, layout, undo, files."""
