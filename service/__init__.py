"""nanonets-ingest: S3 drop folder → Nanonets OCR → validated, normalized JSON."""
