"""Reports and exports (docs/reports.md): the monthly attendance sheet (XLSX laid out like the sheet a
government office files, and CSV), the department summary, the incidents and warnings register for a
year, and the charts embedded in them. Nothing here runs at import time (matplotlib loads on first use)."""
