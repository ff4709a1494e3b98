"""Recording: cassettes written from the event stream, secret scrubbing, and the recording proxy."""
