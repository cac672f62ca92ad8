"""Your model: an ONNX file uploaded here gets every view the catalogue has."""
from __future__ import annotations

import streamlit as st

from app.ui import state, widgets
from app.upload import parts

model = st.session_state[state.MODEL]

st.title("Bring your own model", anchor=False)
st.caption("Upload an ONNX file: its graph with costs on the nodes, exact per-layer parameters and MACs (attention "
           "and matmuls included), where it sits on the Pareto fronts and how fast it runs here, beside the "
           "catalogue. Nothing in the file is executed.")
parts.uploader()
if state.is_imported(model):
    parts.summary(model)
else:
    st.info("No uploaded model is open: choose a file above, or open a link such as `?model=onnx:<sha256>`.",
            icon=":material/upload_file:")
parts.session_uploads(model)
widgets.publish(state.View(state.UPLOAD, model, widgets.session_knobs(model), {}), state.UPLOAD)
