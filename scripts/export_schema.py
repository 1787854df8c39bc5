"""Write the JSON Schemas of the normalized document from the pydantic model (run after changing it).

- `schemas/normalized-document-v1.<minor>.json`: this minor version, pinned (today 1.1);
- `schemas/normalized-document-v1.json`: the newest 1.x, the same schema under the major version's
  name, so a consumer that validates against "v1" accepts every 1.x document.
`schemas/normalized-document-v1.0.json` is the frozen 1.0 schema and is never rewritten (schemas/README.md).
"""

from __future__ import annotations

from pathlib import Path

from service.models.document import SCHEMA_MINOR, document_json_schema_text

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
EXPORTED = (f"normalized-document-v1.{SCHEMA_MINOR}.json", "normalized-document-v1.json")


def main() -> None:
    for name in EXPORTED:
        target = SCHEMAS / name
        target.write_text(document_json_schema_text(name), encoding="utf-8")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
