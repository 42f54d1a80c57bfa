"""The desktop app (PySide6): it shows and edits core objects and never holds model truth itself."""
