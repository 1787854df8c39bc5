"""Write schemas/normalized-document-v1.json from the pydantic model (run after changing the model)."""

from __future__ import annotations

from pathlib import Path

from service.models.document import document_json_schema_text

TARGET = Path(__file__).resolve().parent.parent / "schemas" / "normalized-document-v1.json"


def main() -> None:
    TARGET.write_text(document_json_schema_text(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
