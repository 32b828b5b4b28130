"""Pure statistics on gold data: no Streamlit and no I/O (pages, jobs and notebooks call these)."""
