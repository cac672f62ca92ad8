"""The archlib explorer: `streamlit run app/main.py` from the repository root.

Page config, the shared sidebar (the model select) and navigation over the files in the
top-level pages/. On a session's first run the URL is decoded once into session state;
from then on widgets own the state and every page writes it back to the URL.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.ui import state, widgets

ROOT = Path(__file__).resolve().parent.parent

# a local file, not ":material/hub:": Streamlit fetches a Material favicon from fonts.gstatic.com,
# and the app must work offline (the icons inside the page come from Streamlit's bundled font)
st.set_page_config(page_title="archlib · efficient architectures", page_icon=str(ROOT / "app" / "favicon.svg"),
                   layout="wide", initial_sidebar_state="expanded")

#: (file in pages/, title, icon, page id = URL path); missing files (pages still to come) are skipped
PAGES = (
    ("explore.py", "Explore", ":material/account_tree:", state.EXPLORE),
    ("scaling.py", "Scaling", ":material/open_in_full:", state.SCALING),
    ("compare.py", "Compare", ":material/compare_arrows:", state.COMPARE),
    ("concepts.py", "Concepts", ":material/school:", state.CONCEPTS),
    ("pareto.py", "Pareto", ":material/scatter_plot:", state.PARETO),
    ("performer.py", "Performer", ":material/bolt:", state.PERFORMER),
    ("upload.py", "Your model", ":material/upload_file:", state.UPLOAD),
    ("hardware.py", "Hardware", ":material/memory:", state.HARDWARE),
)

pages = {pid: st.Page(ROOT / "pages" / f, title=title, icon=icon, url_path=pid, default=pid == state.EXPLORE)
         for f, title, icon, pid in PAGES if (ROOT / "pages" / f).exists()}
current = st.navigation(list(pages.values()), position="top")
page_id = next(pid for pid, p in pages.items() if p.title == current.title)

if state.SS_DECODED not in st.session_state:
    view, messages = state.decode(st.query_params.to_dict(), page=page_id)
    st.session_state.update(state.seed(view))
    st.session_state[state.SS_MESSAGES] = messages
    st.session_state[state.SS_DECODED] = True

with st.sidebar:
    st.markdown("## :material/hub: archlib")
    st.caption("Efficient vision architectures as data: analytic costs, graphs and models from one IR.")
    model = widgets.model_select()
    st.caption(widgets.model_caption(model))

widgets.show_url_messages()
current.run()
