"""The use cases: submit a source object, complete a prediction, recover what fell through, quarantine.

They speak to ports (`service.ports`), never to an adapter; `service.bootstrap` hands them their adapters.
"""
