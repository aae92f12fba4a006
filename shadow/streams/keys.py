"""The environment variables that hold the harness's secrets; read, never written or printed.

``SHADOW_APP_SECRET`` verifies Cloud API signatures, ``SHADOW_TWILIO_AUTH_TOKEN`` Twilio's, and
``SHADOW_REDACT_KEY`` keys every pseudonym and equality class (docs/security.md).
"""

APP_SECRET_ENV = "SHADOW_APP_SECRET"
TWILIO_TOKEN_ENV = "SHADOW_TWILIO_AUTH_TOKEN"
REDACT_KEY_ENV = "SHADOW_REDACT_KEY"
