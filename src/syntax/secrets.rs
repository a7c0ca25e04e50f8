//! What counts as a secret, decided once: which variable names hold one (the printer's
//! redaction, config, deploy preflight and scan all ask [`is_secret_name`]) and which
//! values nobody should run with (deploy preflight and scan both ask [`is_weak_value`]).

/// Words that make a name hold a secret wherever they stand in it.
const SECRET_PARTS: [&str; 5] = ["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN"];

/// Suffixes that make a name about a secret rather than the secret itself
/// (`DB_PASSWORD_FILE` is the recommended way to pass one; `AWS_ACCESS_KEY_ID` is an
/// identifier; `TOKEN_TTL` a duration).
const NOT_SECRET_SUFFIXES: [&str; 25] = [
    "_FILE",
    "_PATH",
    "_DIR",
    "_URL",
    "_URI",
    "_HOST",
    "_PORT",
    "_NAME",
    "_ID",
    "_LENGTH",
    "_TTL",
    "_EXPIRY",
    "_EXPIRES",
    "_EXPIRE",
    "_LIFETIME",
    "_TIMEOUT",
    "_ALGORITHM",
    "_TYPE",
    "_HEADER",
    "_ENABLED",
    "_REQUIRED",
    "_SIZE",
    "_ROTATION",
    "_ISSUER",
    "_AUDIENCE",
];

/// Ordinary words that end in KEY.
const NOT_KEYS: [&str; 9] =
    ["MONKEY", "DONKEY", "HOCKEY", "JOCKEY", "TURKEY", "WHISKEY", "LACKEY", "HOTKEY", "TURNKEY"];

/// A name that says it holds a secret (SPEC §1 Output): PASSWORD, PASSWD, PASSPHRASE,
/// SECRET or TOKEN in it, or one of its `_`/`-`/`.`-separated words is PASS, KEYS or ends
/// in KEY (DB_PASS, STRIPE_API_KEY, APIKEY, SECRET_KEY_BASE); unless it is PUBLIC or ends
/// in a suffix that names where or what kind the secret is (`_FILE`, `_URL`, `_ID`,
/// `_TTL`...). MONKEY, KEYBOARD_LAYOUT and the shell's PWD are no secrets.
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    if up.contains("PUBLIC") || NOT_SECRET_SUFFIXES.iter().any(|s| up.ends_with(s)) {
        return false;
    }
    SECRET_PARTS.iter().any(|w| up.contains(w))
        || up
            .split(['_', '-', '.'])
            .any(|w| matches!(w, "PASS" | "KEYS") || (w.ends_with("KEY") && !NOT_KEYS.contains(&w)))
}

/// Values nobody should run with: empty, a well-known default, a common password.
const WEAK: [&str; 25] = [
    "",
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "password",
    "passw0rd",
    "p@ssw0rd",
    "pass",
    "secret",
    "admin",
    "administrator",
    "root",
    "test",
    "default",
    "example",
    "guest",
    "letmein",
    "qwerty",
    "1234",
    "123456",
    "12345678",
    "postgres",
    "mysql",
    "redis",
];

/// Parts that make any value a placeholder (`replace-with-output-of-openssl-rand`).
const PLACEHOLDER_PARTS: [&str; 7] =
    ["changeme", "change-me", "change_me", "replace-with", "replace-me", "replace_me", "placeholder"];

/// A value nobody should run production with: empty, a well-known default, a
/// placeholder. Case and surrounding blanks do not matter.
pub fn is_weak_value(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    WEAK.contains(&v.as_str()) || PLACEHOLDER_PARTS.iter().any(|p| v.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "db_pass",
            "SMTP_PASS",
            "SECRET_KEY",
            "SECRET_KEY_BASE",
            "API_KEY",
            "APIKEY",
            "STRIPE_KEY",
            "SSH_PRIVATEKEY",
            "API_TOKEN",
            "GITHUB_TOKEN",
            "jwt_secret",
            "AWS_SECRET_ACCESS_KEY",
            "BORG_PASSPHRASE",
            "ENCRYPTION_KEYS",
            // URL query parameters the printer redacts.
            "token",
            "X-Amz-Security-Token",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn not_secret_names() {
        for n in [
            // Ordinary words and the shell's folders.
            "MONKEY",
            "MONKEYS_ALLOWED",
            "KEYBOARD_LAYOUT",
            "HOSTNAME",
            "APP_VERSION",
            "PWD",
            "OLDPWD",
            "PASSENGER_COUNT",
            // Where or what kind a secret is, not the secret.
            "POSTGRES_PASSWORD_FILE",
            "KEYCLOAK_URL",
            "TOKEN_TTL",
            "DB_HOST",
            "AWS_ACCESS_KEY_ID",
            "PASSWORD_MIN_LENGTH",
            // Public by name.
            "PUBLIC_KEY",
            "NEXT_PUBLIC_API_KEY",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn weak_values() {
        for v in [
            "",
            " ",
            "changeme",
            "Password",
            "postgres",
            "redis",
            "mysql",
            "guest",
            "p@ssw0rd",
            "changeit",
            "qwerty",
            "pass",
            "1234",
            "replace-with-output-of-openssl-rand-base64-32",
            "my-placeholder",
            "please-replace-me",
            "changeme123",
        ] {
            assert!(is_weak_value(v), "{v:?}");
        }
        for v in ["k8Jq2vX0pL", "correct horse battery staple", "passport", "postgres16", "administrators"] {
            assert!(!is_weak_value(v), "{v:?}");
        }
    }
}
