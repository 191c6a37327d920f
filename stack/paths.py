"""Where things live on disk."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
MODELS = VAR / "models"
MODEL_NAME = "cbp-assistant"
MODEL_FILE = MODELS / f"{MODEL_NAME}.tar.gz"
FINGERPRINT_FILE = MODELS / "fingerprint.txt"
LOGS = VAR / "log"
RUN = VAR / "run"
SECRETS_FILE = VAR / "secrets.env"
API_VENV = ROOT / ".venv"
RASA_VENV = ROOT / ".venv-rasa"
RASA_LOCK = ROOT / "requirements" / "rasa.lock.txt"
CREDENTIALS = ROOT / "bot" / "credentials.yml"
