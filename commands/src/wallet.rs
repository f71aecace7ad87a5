//! The validator's (and the miner's) hotkey, loaded from a Bittensor wallet (chain.md §11).
//!
//! The keyfile is `<wallet path>/<wallet>/hotkeys/<hotkey>`, an unencrypted JSON object as
//! bittensor-wallet writes it. The secret is taken in bittensor-wallet's order: `secretPhrase`
//! (BIP-39 words, no password, no derivation), then `secretSeed` (`0x` + 64 hex, the 32-byte
//! mini secret). A file with only `privateKey` (the 64-byte expanded key, which subxt-signer
//! cannot load) or only public fields cannot sign and is refused, saying so. The address derived
//! from the secret must equal `ss58Address` when the file has one. Encrypted keyfiles are refused
//! with the fix: Albedo does not decrypt them (yet).
//!
//! Errors never echo secret material.

// The validator and miner commands that sign arrive with their issues; until then the tests are
// the only callers.

use std::fmt;
use std::path::{Path, PathBuf};

use albedo_ledger::mirror::{CheckpointSigner, ss58_encode};
use anyhow::{Context, bail};
use serde_json::Value;
use subxt_signer::bip39::Mnemonic;
use subxt_signer::sr25519::Keypair;

/// bittensor-wallet's default wallet directory (chain.md §11.1); `~` is the user's home.
pub const DEFAULT_WALLET_PATH: &str = "~/.bittensor/wallets/";

/// A hotkey that can sign: an sr25519 keypair and its SS58 address (prefix 42).
#[derive(Clone)]
pub struct Hotkey {
    keypair: Keypair,
    ss58: String,
}

/// Only the address: the secret stays out of logs and panics.
impl fmt::Debug for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotkey").field("ss58", &self.ss58).finish_non_exhaustive()
    }
}

impl Hotkey {
    /// The hotkey of a 32-byte mini secret (a keyfile's `secretSeed`).
    pub fn from_seed(seed: [u8; 32]) -> Hotkey {
        // Any 32 bytes are a valid mini secret: subxt-signer fails only on a wrong length.
        Hotkey::from_keypair(Keypair::from_secret_key(seed).expect("32 bytes are a valid sr25519 mini secret"))
    }

    /// The hotkey of a BIP-39 phrase, with no password and no derivation path (as btcli makes
    /// hotkeys). The error does not repeat the phrase.
    pub fn from_phrase(phrase: &str) -> anyhow::Result<Hotkey> {
        let mnemonic = Mnemonic::parse(phrase).map_err(|e| anyhow::anyhow!("not a valid BIP-39 phrase: {e}"))?;
        let keypair = Keypair::from_phrase(&mnemonic, None).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Hotkey::from_keypair(keypair))
    }

    fn from_keypair(keypair: Keypair) -> Hotkey {
        let ss58 = ss58_encode(&keypair.public_key().0);
        Hotkey { keypair, ss58 }
    }

    /// The SS58 address (prefix 42), as the metagraph lists the hotkey.
    pub fn ss58(&self) -> &str {
        &self.ss58
    }

    /// The 32-byte sr25519 public key (the account id).
    pub fn public_key(&self) -> [u8; 32] {
        self.keypair.public_key().0
    }

    /// The keypair, for signing extrinsics.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }
}

impl CheckpointSigner for Hotkey {
    fn ss58(&self) -> String {
        self.ss58.clone()
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.keypair.sign(message).0
    }
}

/// The wallet directory from `BT_WALLET_PATH` (default `~/.bittensor/wallets/`), with a leading
/// `~` expanded from `HOME`. `vars` is the process environment (`std::env::vars().collect()`).
pub fn wallet_path_from_env(vars: &[(String, String)]) -> PathBuf {
    let var = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let path = var("BT_WALLET_PATH").filter(|p| !p.is_empty()).unwrap_or(DEFAULT_WALLET_PATH);
    match (path.strip_prefix('~'), var("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => PathBuf::from(format!("{home}{rest}")),
        _ => PathBuf::from(path),
    }
}

/// Where a hotkey's keyfile lives: `<wallet_path>/<wallet>/hotkeys/<hotkey>`.
pub fn hotkey_file(wallet_path: &Path, wallet: &str, hotkey: &str) -> PathBuf {
    wallet_path.join(wallet).join("hotkeys").join(hotkey)
}

/// Loads the hotkey `hotkey` of wallet `wallet` under `wallet_path` (chain.md §11.2).
pub fn load_hotkey(wallet_path: &Path, wallet: &str, hotkey: &str) -> anyhow::Result<Hotkey> {
    let path = hotkey_file(wallet_path, wallet, hotkey);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no hotkey file at {} (wallet {wallet:?}, hotkey {hotkey:?}): set BT_WALLET_PATH, BT_WALLET_NAME and \
             BT_WALLET_HOTKEY to an existing hotkey",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read hotkey file {}", path.display())),
    };
    parse_keyfile(&bytes).with_context(|| format!("hotkey file {}", path.display()))
}

/// The hotkey in a keyfile's bytes. Errors say what is wrong, never what the secret is.
fn parse_keyfile(bytes: &[u8]) -> anyhow::Result<Hotkey> {
    // bittensor-wallet's `keyfile_data_is_encrypted_*` prefixes (chain.md §11.2).
    for (prefix, kind) in [(&b"$NACL"[..], "NaCl"), (b"$ANSIBLE_VAULT", "Ansible Vault"), (b"gAAAAA", "Fernet")] {
        if bytes.starts_with(prefix) {
            bail!(
                "is encrypted ({kind}); Albedo does not decrypt keyfiles: decrypt it with btcli or provide an \
                 unencrypted hotkey (btcli makes hotkeys unencrypted unless asked)"
            );
        }
    }
    let json: Value = serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("is not valid JSON: {e}"))?;
    let Value::Object(fields) = json else { bail!("is not a JSON object") };
    // Values are read loosely (chain.md §11.2): a string, a number or null; empty means absent.
    let text = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let hotkey = if let Some(phrase) = text("secretPhrase") {
        Hotkey::from_phrase(&phrase).context("secretPhrase")?
    } else if let Some(seed) = text("secretSeed") {
        let seed = hex::decode(seed.strip_prefix("0x").unwrap_or(&seed))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .context("secretSeed is not 0x + 64 hex digits (a 32-byte seed)")?;
        Hotkey::from_seed(seed)
    } else if text("privateKey").is_some() {
        bail!(
            "holds only a privateKey (the 64-byte expanded sr25519 key), which Albedo cannot load: regenerate the \
             hotkey file from its mnemonic with btcli (`btcli wallet regen-hotkey`) so it carries secretPhrase and \
             secretSeed"
        );
    } else {
        let public = text("ss58Address").unwrap_or_else(|| "no ss58Address".into());
        bail!(
            "holds only the public key ({public}), which cannot sign: use the hotkey file with its secret \
             (secretPhrase or secretSeed), not the public part"
        );
    };
    if let Some(stated) = text("ss58Address")
        && stated != hotkey.ss58
    {
        bail!("its secret derives the address {} but its ss58Address is {stated}", hotkey.ss58);
    }
    Ok(hotkey)
}

#[cfg(test)]
mod tests {
    use albedo_ledger::Hash32;
    use albedo_ledger::mirror::Checkpoint;

    use super::*;

    // chain.md §11.4: checked in subxt-signer 0.51.1 and bittensor-wallet 4.1.1.
    const PHRASE: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    const PHRASE_PUBLIC: &str = "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a";
    const PHRASE_SS58: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
    const SEED_01_SS58: &str = "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH";

    fn seed_01_hex() -> String {
        format!("0x{}", "01".repeat(32))
    }

    /// Writes `content` as hotkey `default` of wallet `test` in a fresh temp wallet directory.
    fn wallet(content: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let hotkeys = dir.path().join("test/hotkeys");
        std::fs::create_dir_all(&hotkeys).unwrap();
        std::fs::write(hotkeys.join("default"), content).unwrap();
        dir
    }

    fn load(content: &[u8]) -> anyhow::Result<Hotkey> {
        let dir = wallet(content);
        load_hotkey(dir.path(), "test", "default")
    }

    fn load_err(content: &[u8]) -> String {
        format!("{:#}", load(content).unwrap_err())
    }

    /// A keyfile as bittensor-wallet 4.1.1 writes it (chain.md §11.2), without `privateKey`.
    fn keyfile(phrase: Option<&str>, seed: Option<&str>, ss58: &str) -> Vec<u8> {
        let mut obj = serde_json::json!({
            "accountId": format!("0x{PHRASE_PUBLIC}"),
            "publicKey": format!("0x{PHRASE_PUBLIC}"),
            "ss58Address": ss58,
            "cryptoType": 1,
        });
        if let Some(p) = phrase {
            obj["secretPhrase"] = p.into();
        }
        if let Some(s) = seed {
            obj["secretSeed"] = s.into();
        }
        serde_json::to_vec(&obj).unwrap()
    }

    #[test]
    fn the_test_vectors_derive_their_addresses() {
        let phrase = Hotkey::from_phrase(PHRASE).unwrap();
        assert_eq!(phrase.ss58(), PHRASE_SS58);
        assert_eq!(hex::encode(phrase.public_key()), PHRASE_PUBLIC);
        assert_eq!(phrase.keypair().public_key().0, phrase.public_key());
        assert_eq!(Hotkey::from_seed([1; 32]).ss58(), SEED_01_SS58);
    }

    #[test]
    fn a_keyfile_with_a_phrase_loads() {
        let hotkey = load(&keyfile(Some(PHRASE), None, PHRASE_SS58)).unwrap();
        assert_eq!(hotkey.ss58(), PHRASE_SS58);
        assert_eq!(format!("{hotkey:?}"), format!("Hotkey {{ ss58: {PHRASE_SS58:?}, .. }}"));
    }

    #[test]
    fn a_keyfile_with_a_seed_loads() {
        let hotkey = load(&keyfile(None, Some(&seed_01_hex()), SEED_01_SS58)).unwrap();
        assert_eq!(hotkey.ss58(), SEED_01_SS58);
        // Without the 0x, and without ss58Address, as older files may be.
        let bare = serde_json::json!({ "secretSeed": "01".repeat(32) });
        assert_eq!(load(bare.to_string().as_bytes()).unwrap().ss58(), SEED_01_SS58);
    }

    #[test]
    fn the_phrase_wins_over_the_seed_and_the_private_key() {
        let mut file: Value =
            serde_json::from_slice(&keyfile(Some(PHRASE), Some(&seed_01_hex()), PHRASE_SS58)).unwrap();
        file["privateKey"] = format!("0x{}", "02".repeat(64)).into();
        assert_eq!(load(file.to_string().as_bytes()).unwrap().ss58(), PHRASE_SS58);
        // Without the phrase, the seed wins over the private key.
        file.as_object_mut().unwrap().remove("secretPhrase");
        file["ss58Address"] = SEED_01_SS58.into();
        assert_eq!(load(file.to_string().as_bytes()).unwrap().ss58(), SEED_01_SS58);
    }

    #[test]
    fn a_hotkey_can_be_shared_between_tasks() {
        // The mirror's uploader takes its signer as `&(dyn CheckpointSigner + Sync)`.
        fn shareable<T: Send + Sync>() {}
        shareable::<Hotkey>();
    }

    #[test]
    fn a_hotkey_signs_checkpoints_that_verify() {
        let hotkey = load(&keyfile(Some(PHRASE), None, PHRASE_SS58)).unwrap();
        let cp = Checkpoint::sign(42, Hash32::of(b"head"), 1_764_000_000_000, &hotkey);
        assert_eq!(cp.signer, PHRASE_SS58);
        cp.verify_signature().unwrap();
    }

    #[test]
    fn a_missing_file_names_the_path_and_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", load_hotkey(dir.path(), "validator", "hk").unwrap_err());
        let path = dir.path().join("validator/hotkeys/hk");
        assert_eq!(
            err,
            format!(
                "no hotkey file at {} (wallet \"validator\", hotkey \"hk\"): set BT_WALLET_PATH, BT_WALLET_NAME and \
                 BT_WALLET_HOTKEY to an existing hotkey",
                path.display()
            )
        );
    }

    #[test]
    fn bad_json_is_refused() {
        let err = load_err(b"{\"secretPhrase\": ");
        assert!(err.starts_with("hotkey file ") && err.contains("/test/hotkeys/default: is not valid JSON: "), "{err}");
        let err = load_err(b"[1, 2]");
        assert!(err.ends_with("/test/hotkeys/default: is not a JSON object"), "{err}");
    }

    #[test]
    fn encrypted_keyfiles_are_refused_with_the_fix() {
        for (content, kind) in [
            (&b"$NACL\x01\x02\x03"[..], "NaCl"),
            (b"$ANSIBLE_VAULT;1.1;AES256\n6162", "Ansible Vault"),
            (b"gAAAAABkZ2V0", "Fernet"),
        ] {
            let err = load_err(content);
            assert!(
                err.ends_with(&format!(
                    "/test/hotkeys/default: is encrypted ({kind}); Albedo does not decrypt keyfiles: decrypt it with \
                     btcli or provide an unencrypted hotkey (btcli makes hotkeys unencrypted unless asked)"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn an_address_that_does_not_match_the_secret_is_refused() {
        let err = load_err(&keyfile(Some(PHRASE), None, SEED_01_SS58));
        assert!(
            err.ends_with(&format!("/test/hotkeys/default: its secret derives the address {PHRASE_SS58} but its ss58Address is {SEED_01_SS58}")),
            "{err}"
        );
        let err = load_err(&keyfile(None, Some(&seed_01_hex()), PHRASE_SS58));
        assert!(
            err.contains(&format!("derives the address {SEED_01_SS58} but its ss58Address is {PHRASE_SS58}")),
            "{err}"
        );
    }

    #[test]
    fn a_public_only_keyfile_cannot_sign() {
        let err = load_err(&keyfile(None, None, PHRASE_SS58));
        assert!(
            err.ends_with(&format!(
                "/test/hotkeys/default: holds only the public key ({PHRASE_SS58}), which cannot sign: use the hotkey \
                 file with its secret (secretPhrase or secretSeed), not the public part"
            )),
            "{err}"
        );
        // Empty and null secrets count as absent.
        let blank = serde_json::json!({ "secretPhrase": "", "secretSeed": null, "ss58Address": PHRASE_SS58 });
        assert!(load_err(blank.to_string().as_bytes()).contains("holds only the public key"));
    }

    #[test]
    fn a_private_key_only_keyfile_is_unsupported() {
        let file = serde_json::json!({ "privateKey": format!("0x{}", "02".repeat(64)), "ss58Address": PHRASE_SS58 });
        let err = load_err(file.to_string().as_bytes());
        assert!(
            err.contains(": holds only a privateKey (the 64-byte expanded sr25519 key), which Albedo cannot load"),
            "{err}"
        );
        assert!(!err.contains(&"02".repeat(8)), "the error leaks the key: {err}");
    }

    #[test]
    fn bad_secrets_are_named_without_echoing_them() {
        let err = load_err(&keyfile(Some("bottom drive obey lake curtain smoke"), None, PHRASE_SS58));
        assert!(err.contains("/test/hotkeys/default: secretPhrase: not a valid BIP-39 phrase"), "{err}");
        assert!(!err.contains("obey"), "the error leaks the phrase: {err}");
        let err = load_err(&keyfile(None, Some("0x0101"), SEED_01_SS58));
        assert!(err.ends_with("secretSeed is not 0x + 64 hex digits (a 32-byte seed)"), "{err}");
    }

    #[test]
    fn the_wallet_path_comes_from_the_environment() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(wallet_path_from_env(&vars(&[("HOME", "/home/v")])), PathBuf::from("/home/v/.bittensor/wallets/"));
        assert_eq!(
            wallet_path_from_env(&vars(&[("HOME", "/home/v"), ("BT_WALLET_PATH", "~/w")])),
            PathBuf::from("/home/v/w")
        );
        assert_eq!(
            wallet_path_from_env(&vars(&[("HOME", "/home/v"), ("BT_WALLET_PATH", "~")])),
            PathBuf::from("/home/v")
        );
        assert_eq!(
            wallet_path_from_env(&vars(&[("HOME", "/home/v"), ("BT_WALLET_PATH", "/srv/wallets")])),
            PathBuf::from("/srv/wallets")
        );
        // `~user` is not expanded, and without HOME `~` stays as it is (the load error shows it).
        assert_eq!(
            wallet_path_from_env(&vars(&[("HOME", "/home/v"), ("BT_WALLET_PATH", "~other/w")])),
            PathBuf::from("~other/w")
        );
        assert_eq!(wallet_path_from_env(&[]), PathBuf::from("~/.bittensor/wallets/"));
        assert_eq!(
            hotkey_file(Path::new("/home/v/.bittensor/wallets/"), "default", "hk"),
            PathBuf::from("/home/v/.bittensor/wallets/default/hotkeys/hk")
        );
    }
}
