"""The review console (issue 13, docs/REVIEW.md): a queue of the documents that need a person, the page with
its boxes beside the extracted values, and edit / approve / reject with an audit trail.

Entry points for the rest of the service:
- `service.review.views.register_review(app, services)`: serve it (REVIEW_ENABLED).
- `service.review.hooks.ReviewHooks`: what completion and quarantine call (edits re-applied, queue kept).
- `service.review.overrides.apply_overrides`, `service.review.attention.attention_reasons` and
  `AttentionIndex.mark` / `.clear`: the pure rules and the index underneath.
- `service.review.console.retry_pending_pushes(services)`: for reconcile.
- `service.review.cli.register(subparsers)`: `nanonets-ingest review add-user NAME`.

Nothing is imported here, so the pipeline can import `hooks` without loading Flask views or PDFium.
"""
