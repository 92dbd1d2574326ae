"""The dashboard's shared code (not pages): ``data`` (the cached store and
Evaluations), ``state`` (the sidebar's selection and the URL), ``widgets`` (downloads,
progress, the error boundary) and ``compat`` (every use of a Streamlit internal).

It lives in a subpackage so that Streamlit's pages-folder mode, which lists every
``pages/*.py``, never shows it as a page."""
