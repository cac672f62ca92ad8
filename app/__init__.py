"""The Streamlit explorer: `streamlit run app/main.py` from the repository root.

ui/ holds what every page shares (URL state codec, widgets, caches, charts, tables); one
subpackage per page holds that page's parts; the pages themselves are the thin files in
the top-level pages/.
"""
