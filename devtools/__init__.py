"""Developer tooling, not part of the product: the Nanonets emulator and the local stack (moto, emulator,
gunicorn) used by the demo, the bench, the soak and the tests. Not in the wheel, the image or the Lambda
package; nothing in `service/` imports it."""
