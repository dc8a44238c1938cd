"""Device credentials in the OS keyring: never in project files, logs or command lines.

One keyring entry per device name under the service `conduit-hmi`. Where no keyring backend
exists (a headless Linux box), every call fails with a message that says so and what to
install; there is no plaintext fallback.
"""

from __future__ import annotations

import keyring
import keyring.errors

SERVICE = "conduit-hmi"

NO_BACKEND = (
    "no OS keyring is available to hold device passwords. Install and unlock one: on a Linux "
    "desktop the Secret Service (gnome-keyring or KWallet, with the `secretstorage` Python "
    "package); on a headless box an encrypted file keyring (`pip install keyrings.cryptfile`, "
    "then set PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring). Conduit "
    "never stores passwords in plain text."
)


class SecretsError(Exception):
    """A credential could not be read, stored or deleted; the message says what to do."""


def get_password(device: str) -> str | None:
    """The stored password of a device, or None when none is stored."""
    try:
        return keyring.get_password(SERVICE, device)
    except keyring.errors.NoKeyringError:
        raise SecretsError(f"device {device}: {NO_BACKEND}") from None
    except keyring.errors.KeyringError as exc:
        raise SecretsError(f"device {device}: the keyring failed: {exc}") from None


def set_password(device: str, password: str) -> None:
    """Store (or replace) the password of a device."""
    if not password:
        raise SecretsError(f"device {device}: an empty password is not stored")
    try:
        keyring.set_password(SERVICE, device, password)
    except keyring.errors.NoKeyringError:
        raise SecretsError(f"device {device}: {NO_BACKEND}") from None
    except keyring.errors.KeyringError as exc:
        raise SecretsError(f"device {device}: the keyring refused to store it: {exc}") from None


def delete_password(device: str) -> bool:
    """Delete the stored password of a device; False when none was stored."""
    try:
        if keyring.get_password(SERVICE, device) is None:
            return False
        keyring.delete_password(SERVICE, device)
    except keyring.errors.NoKeyringError:
        raise SecretsError(f"device {device}: {NO_BACKEND}") from None
    except keyring.errors.KeyringError as exc:
        raise SecretsError(f"device {device}: the keyring failed: {exc}") from None
    return True
