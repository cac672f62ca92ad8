"""The live graph component and its page glue (see component.py and panel.py)."""
