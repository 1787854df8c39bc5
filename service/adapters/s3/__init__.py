"""S3 adapters: `S3ObjectStore` (the only boto3 caller) and small repositories over it."""

from __future__ import annotations

from service.adapters.s3.archive import S3RawArchive
from service.adapters.s3.bucket import StateBucket
from service.adapters.s3.claims import S3Claims
from service.adapters.s3.ledger import S3Ledger
from service.adapters.s3.outputs import S3Outputs
from service.adapters.s3.quarantine import S3Quarantine
from service.adapters.s3.sources import S3Sources
from service.ports import ObjectStore, StateStores


def build_state_stores(
    objects: ObjectStore, *, state_bucket: str, state_prefix: str, output_bucket: str
) -> StateStores:
    state = StateBucket(objects, state_bucket, state_prefix)
    return StateStores(
        claims=S3Claims(state),
        ledger=S3Ledger(state),
        raw=S3RawArchive(state),
        outputs=S3Outputs(objects, output_bucket),
        quarantine=S3Quarantine(state),
        sources=S3Sources(objects),
    )
