"""Build-time configuration: render templates, validate, and write the immutable config bundle."""
