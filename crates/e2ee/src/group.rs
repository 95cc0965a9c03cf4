//! One participant's membership of the meeting's MLS group (RFC 9420).
//!
//! The server is only the delivery service: it carries key packages, orders commits (the
//! first commit for an epoch wins, the rest are refused) and hands Welcomes to the people they
//! add. It never holds key material. Every commit carries the link's key as an external PSK,
//! and a joiner refuses a Welcome that does not, so a group made by someone who never saw the
//! invite link (a server adding itself) is refused.

use std::sync::Arc;

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls::schedule::{ExternalPsk, PreSharedKeyId, Psk};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use zeroize::Zeroizing;

use crate::code::SecurityCode;
use crate::credential;
use crate::error::E2eeError;
use crate::frame::FrameCipher;
use crate::link::LinkKeys;

/// The MLS cipher suite: X25519, AES-128-GCM, SHA-256, Ed25519.
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
/// Largest key package accepted (they are about 400 bytes).
pub const MAX_KEY_PACKAGE_BYTES: usize = 4 * 1024;
/// Largest commit or Welcome accepted (a Welcome carries the ratchet tree: about 0.5 KB a
/// member).
pub const MAX_HANDSHAKE_BYTES: usize = 1024 * 1024;
/// Largest encrypted chat line or other group message.
pub const MAX_APPLICATION_BYTES: usize = 48 * 1024;
/// The external PSK's id; its secret comes from the link.
const PSK_ID: &[u8] = b"parley invite link v1";
/// Past epochs whose application secrets are kept (chat sent just before a change).
const PAST_EPOCHS: usize = 3;

/// Someone who asked to be added, checked: a valid key package whose credential is signed by
/// their identity key and proves the link.
#[derive(Clone)]
pub struct Candidate {
    identity: [u8; 32],
    key_package: KeyPackage,
    size: usize,
}

impl Candidate {
    /// Their Parley identity key.
    pub fn identity(&self) -> [u8; 32] {
        self.identity
    }

    /// The size of their key package as it arrived (bytes): what adding them puts in a
    /// commit grows with it.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Candidate")
    }
}

/// A commit to send to the server, which orders it.
#[derive(Clone)]
pub struct Commit {
    /// The epoch it applies to (the server accepts one commit per epoch).
    pub epoch: u64,
    /// The commit, for every member.
    pub commit: Vec<u8>,
    /// The Welcome, for the people added (absent when nobody is).
    pub welcome: Option<Vec<u8>>,
}

impl std::fmt::Debug for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commit")
            .field("epoch", &self.epoch)
            .field("commit_bytes", &self.commit.len())
            .field("welcome_bytes", &self.welcome.as_ref().map(Vec::len))
            .finish()
    }
}

/// What a message from the group did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The group moved to a new epoch (someone was added or removed).
    Epoch(u64),
    /// This member was removed: every key is gone.
    Removed,
    /// An application message (chat and other content) from the member with this identity.
    Message {
        /// The sender's identity key, from their checked credential.
        sender: [u8; 32],
        /// The plaintext.
        plaintext: Vec<u8>,
    },
}

/// One participant's end of the group: its MLS state, its signing key, the link's keys and
/// the frame cipher the media pipeline uses.
pub struct Member {
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    link: LinkKeys,
    identity: [u8; 32],
    group: Option<MlsGroup>,
    pending: bool,
    /// Our pending commit removes someone (its keys then take effect at once).
    pending_removes: bool,
    frames: Arc<FrameCipher>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("epoch", &self.epoch())
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .use_ratchet_tree_extension(true)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .max_past_epochs(PAST_EPOCHS)
        .build()
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .use_ratchet_tree_extension(true)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .max_past_epochs(PAST_EPOCHS)
        .build()
}

fn read_message(bytes: &[u8], max: usize) -> Result<MlsMessageIn, E2eeError> {
    if bytes.len() > max {
        return Err(E2eeError::Malformed("too large"));
    }
    MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|_| E2eeError::Malformed("not an MLS message"))
}

fn write_message(m: &MlsMessageOut) -> Result<Vec<u8>, E2eeError> {
    m.tls_serialize_detached().map_err(E2eeError::mls)
}

impl Member {
    /// A new member for the meeting whose link carries `link_key`. `identity` is this
    /// install's Ed25519 identity key; `sign` signs [`credential::SIGNATURE_CONTEXT`]
    /// followed by the bytes it is given with it (parley-proto's `Identity::sign_e2ee` does
    /// exactly that).
    pub fn new(
        link_key: &[u8],
        identity: [u8; 32],
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Result<Self, E2eeError> {
        let provider = OpenMlsRustCrypto::default();
        let signer =
            SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).map_err(E2eeError::mls)?;
        signer.store(provider.storage()).map_err(E2eeError::mls)?;
        let link = LinkKeys::derive(link_key);
        let signature = sign(&credential::credential_message(signer.public()));
        let credential_bytes = credential::build(&identity, &signature, &link, signer.public());
        // Check our own credential now: a wrong signer would otherwise only show at others.
        credential::verify(&credential_bytes, signer.public(), &link)?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(credential_bytes).into(),
            signature_key: signer.public().into(),
        };
        PreSharedKeyId::new(CIPHERSUITE, provider.rand(), Self::psk())
            .map_err(E2eeError::mls)?
            .store(&provider, &link.psk[..])
            .map_err(E2eeError::mls)?;
        Ok(Member {
            provider,
            signer,
            credential,
            link,
            identity,
            group: None,
            pending: false,
            pending_removes: false,
            frames: Arc::new(FrameCipher::default()),
        })
    }

    /// [`Member::new`], going on with `frames` (cleared of every key): for a member that lost
    /// step with the group and starts over, while its media pipeline keeps the cipher it holds.
    pub fn new_with_frames(
        link_key: &[u8],
        identity: [u8; 32],
        sign: impl FnOnce(&[u8]) -> [u8; 64],
        frames: Arc<FrameCipher>,
    ) -> Result<Self, E2eeError> {
        let mut m = Self::new(link_key, identity, sign)?;
        frames.clear();
        m.frames = frames;
        Ok(m)
    }

    fn psk() -> Psk {
        Psk::External(ExternalPsk::new(PSK_ID.to_vec()))
    }

    /// This member's identity key.
    pub fn identity(&self) -> [u8; 32] {
        self.identity
    }

    /// The frame cipher for the media pipeline (it follows every epoch change).
    pub fn frames(&self) -> Arc<FrameCipher> {
        self.frames.clone()
    }

    /// Whether this member is in the group (founded it or processed a Welcome) and not
    /// removed.
    pub fn in_group(&self) -> bool {
        self.group.as_ref().is_some_and(MlsGroup::is_active)
    }

    /// The group's current epoch, if in one.
    pub fn epoch(&self) -> Option<u64> {
        self.group.as_ref().map(|g| g.epoch().as_u64())
    }

    /// Whether a commit of ours waits for the server's order.
    pub fn has_pending_commit(&self) -> bool {
        self.pending
    }

    /// A fresh key package to publish (through the server) so a member can add us.
    pub fn key_package(&self) -> Result<Vec<u8>, E2eeError> {
        let bundle = KeyPackage::builder()
            .build(
                CIPHERSUITE,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .map_err(E2eeError::mls)?;
        write_message(&MlsMessageOut::from(bundle.key_package().clone()))
    }

    /// Found the group (the first participant admitted does this, when the server says there
    /// is none yet).
    pub fn found_group(&mut self) -> Result<(), E2eeError> {
        let group = MlsGroup::new(
            &self.provider,
            &self.signer,
            &create_config(),
            self.credential.clone(),
        )
        .map_err(E2eeError::mls)?;
        self.group = Some(group);
        self.pending = false;
        self.rotate(0)
    }

    /// Check someone's key package: it parses, its signature holds, its suite is ours, its
    /// credential is signed by their identity key and proves the link.
    pub fn check_key_package(&self, bytes: &[u8]) -> Result<Candidate, E2eeError> {
        let message = read_message(bytes, MAX_KEY_PACKAGE_BYTES)?;
        let MlsMessageBodyIn::KeyPackage(kp) = message.extract() else {
            return Err(E2eeError::Malformed("not a key package"));
        };
        let key_package = kp
            .validate(self.provider.crypto(), ProtocolVersion::Mls10)
            .map_err(E2eeError::mls)?;
        if key_package.ciphersuite() != CIPHERSUITE {
            return Err(E2eeError::WrongCiphersuite);
        }
        let leaf = key_package.leaf_node();
        let identity = check_leaf(leaf, &self.link)?;
        Ok(Candidate {
            identity,
            key_package,
            size: bytes.len(),
        })
    }

    /// The identity keys of the group's members, by leaf index.
    pub fn members(&self) -> Vec<(u32, [u8; 32])> {
        self.group
            .iter()
            .flat_map(|g| g.members())
            .filter_map(|m| {
                let id = BasicCredential::try_from(m.credential).ok()?;
                Some((m.index.u32(), credential::identity_of(id.identity())?))
            })
            .collect()
    }

    /// Commit adding `add` and removing the members with identity keys in `remove` (and any
    /// older leaf of someone being added again). The commit stays pending until the server
    /// orders it: then [`Member::commit_accepted`] or [`Member::commit_refused`].
    pub fn commit(&mut self, add: &[Candidate], remove: &[[u8; 32]]) -> Result<Commit, E2eeError> {
        if self.pending {
            return Err(E2eeError::CommitPending);
        }
        let leaves: Vec<LeafNodeIndex> = self
            .members()
            .into_iter()
            .filter(|(leaf, id)| {
                *id != self.identity
                    && *leaf != self.own_leaf()
                    && (remove.contains(id) || add.iter().any(|c| c.identity == *id))
            })
            .map(|(leaf, _)| LeafNodeIndex::new(leaf))
            .collect();
        let psk = PreSharedKeyId::new(CIPHERSUITE, self.provider.rand(), Self::psk())
            .map_err(E2eeError::mls)?;
        let group = self.group.as_mut().ok_or(E2eeError::NotInGroup)?;
        if !group.is_active() {
            return Err(E2eeError::Removed);
        }
        let epoch = group.epoch().as_u64();
        let removes = !leaves.is_empty();
        let bundle = group
            .commit_builder()
            .propose_adds(add.iter().map(|c| c.key_package.clone()))
            .propose_removals(leaves)
            .add_proposal(Proposal::PreSharedKey(Box::new(PreSharedKeyProposal::new(
                psk,
            ))))
            .force_self_update(true)
            .load_psks(self.provider.storage())
            .map_err(E2eeError::mls)?
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .map_err(E2eeError::mls)?
            .stage_commit(&self.provider)
            .map_err(E2eeError::mls)?;
        let (commit, welcome, _) = bundle.into_messages();
        self.pending = true;
        self.pending_removes = removes;
        Ok(Commit {
            epoch,
            commit: write_message(&commit)?,
            welcome: welcome.as_ref().map(write_message).transpose()?,
        })
    }

    /// The server ordered our pending commit: apply it.
    pub fn commit_accepted(&mut self) -> Result<u64, E2eeError> {
        let group = self.group.as_mut().ok_or(E2eeError::NotInGroup)?;
        if !self.pending {
            return Err(E2eeError::Mls("no commit is pending".into()));
        }
        group
            .merge_pending_commit(&self.provider)
            .map_err(E2eeError::mls)?;
        self.pending = false;
        self.rotate(switch_after(self.pending_removes))?;
        Ok(self.epoch().unwrap_or(0))
    }

    /// The server refused our pending commit (another one won the epoch): drop it.
    pub fn commit_refused(&mut self) {
        if let Some(group) = self.group.as_mut() {
            let _ = group.clear_pending_commit(self.provider.storage());
        }
        self.pending = false;
    }

    /// Enter the group through a Welcome a member made for us. Refused when it does not carry
    /// the link's key ([`E2eeError::WelcomeWithoutLinkKey`]), when our link's key is not the
    /// group's ([`E2eeError::WrongLink`]), or when any member's credential does not check.
    pub fn join(&mut self, welcome: &[u8]) -> Result<u64, E2eeError> {
        let message = read_message(welcome, MAX_HANDSHAKE_BYTES)?;
        let MlsMessageBodyIn::Welcome(welcome) = message.extract() else {
            return Err(E2eeError::Malformed("not a Welcome"));
        };
        let processed = ProcessedWelcome::new_from_welcome(&self.provider, &join_config(), welcome)
            .map_err(|e| match e {
                WelcomeError::GroupSecrets(_) => E2eeError::Malformed("unreadable Welcome"),
                // The group info is encrypted under a secret the link's PSK goes into.
                WelcomeError::GroupInfo(_) | WelcomeError::Psk(_) => E2eeError::WrongLink,
                other => E2eeError::mls(other),
            })?;
        let ours = Self::psk();
        if !processed.psks().iter().any(|p| p.psk() == &ours) {
            return Err(E2eeError::WelcomeWithoutLinkKey);
        }
        let staged = processed
            .into_staged_welcome(&self.provider, None)
            .map_err(|e| match e {
                WelcomeError::GroupInfo(_) | WelcomeError::Psk(_) => E2eeError::WrongLink,
                other => E2eeError::mls(other),
            })?;
        let group = staged.into_group(&self.provider).map_err(E2eeError::mls)?;
        for m in group.members() {
            let credential = BasicCredential::try_from(m.credential).map_err(E2eeError::mls)?;
            credential::verify(credential.identity(), &m.signature_key, &self.link)?;
        }
        self.group = Some(group);
        self.pending = false;
        self.rotate(0)?;
        Ok(self.epoch().unwrap_or(0))
    }

    /// Process a message the server relayed from the group: a commit (someone else's; the
    /// server ordered it before ours, so a pending commit of ours is dropped) or an
    /// application message.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Received, E2eeError> {
        let message = read_message(bytes, MAX_HANDSHAKE_BYTES)?;
        let protocol = message
            .try_into_protocol_message()
            .map_err(|_| E2eeError::Malformed("not a group message"))?;
        let group = self.group.as_mut().ok_or(E2eeError::NotInGroup)?;
        if !group.is_active() {
            return Err(E2eeError::Removed);
        }
        if protocol.content_type() == ContentType::Commit && self.pending {
            let _ = group.clear_pending_commit(self.provider.storage());
            self.pending = false;
        }
        let processed = group
            .process_message(&self.provider, protocol)
            .map_err(E2eeError::mls)?;
        let sender_credential = processed.credential().clone();
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => {
                let credential =
                    BasicCredential::try_from(sender_credential).map_err(E2eeError::mls)?;
                let sender = credential::identity_of(credential.identity())
                    .ok_or(E2eeError::BadCredential)?;
                Ok(Received::Message {
                    sender,
                    plaintext: m.into_bytes(),
                })
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                for add in staged.add_proposals() {
                    check_leaf(add.add_proposal().key_package().leaf_node(), &self.link)?;
                }
                if staged.psk_proposals().next().is_none() {
                    return Err(E2eeError::WelcomeWithoutLinkKey);
                }
                let removes = staged.remove_proposals().next().is_some();
                group
                    .merge_staged_commit(&self.provider, *staged)
                    .map_err(E2eeError::mls)?;
                if !group.is_active() {
                    self.frames.clear();
                    return Ok(Received::Removed);
                }
                self.rotate(switch_after(removes))?;
                Ok(Received::Epoch(self.epoch().unwrap_or(0)))
            }
            ProcessedMessageContent::OwnPendingCommit => Err(E2eeError::Malformed(
                "our own commit came back: it is applied with commit_accepted",
            )),
            ProcessedMessageContent::ProposalMessage(_)
            | ProcessedMessageContent::ExternalJoinProposalMessage(_)
            | ProcessedMessageContent::OwnPrivateMessage => {
                Err(E2eeError::Malformed("standalone proposals are not used"))
            }
        }
    }

    /// Encrypt an application message (a chat line) for the group.
    pub fn seal_message(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, E2eeError> {
        let group = self.group.as_mut().ok_or(E2eeError::NotInGroup)?;
        let m = group
            .create_message(&self.provider, &self.signer, plaintext)
            .map_err(|e| match e {
                CreateMessageError::GroupStateError(MlsGroupStateError::UseAfterEviction) => {
                    E2eeError::Removed
                }
                other => E2eeError::mls(other),
            })?;
        write_message(&m)
    }

    /// The security code of the current epoch.
    pub fn security_code(&self) -> Option<SecurityCode> {
        let g = self.group.as_ref().filter(|g| g.is_active())?;
        Some(SecurityCode::from_authenticator(
            g.epoch().as_u64(),
            g.epoch_authenticator().as_slice(),
        ))
    }

    fn own_leaf(&self) -> u32 {
        self.group
            .as_ref()
            .map_or(u32::MAX, |g| g.own_leaf_index().u32())
    }

    /// Give the frame cipher the new epoch's keys (sending with them after `switch_after`
    /// more frames).
    fn rotate(&mut self, switch_after: u32) -> Result<(), E2eeError> {
        let Some(group) = self.group.as_ref() else {
            return Ok(());
        };
        let base = group
            .export_secret(
                self.provider.crypto(),
                "SFrame 1.0 Base Key",
                b"",
                crate::frame::SUITE.key_len(),
            )
            .map_err(E2eeError::mls)?;
        let leaves = group
            .members()
            .map(|m| m.index.u32() + 1)
            .max()
            .unwrap_or(1);
        self.frames.rotate(
            group.epoch().as_u64(),
            Zeroizing::new(base),
            group.own_leaf_index().u32(),
            leaves,
            switch_after,
        );
        Ok(())
    }
}

/// When the new epoch's key starts sealing: at once if the change removed someone (they
/// must read nothing sent after), else a moment later so nobody's frames glitch.
fn switch_after(removes: bool) -> u32 {
    if removes {
        0
    } else {
        crate::frame::SWITCH_AFTER_FRAMES
    }
}

/// Check a leaf's credential (identity signature, link proof); its identity key.
fn check_leaf(leaf: &LeafNode, link: &LinkKeys) -> Result<[u8; 32], E2eeError> {
    let credential = BasicCredential::try_from(leaf.credential().clone())
        .map_err(|_| E2eeError::Malformed("not a basic credential"))?;
    credential::verify(credential.identity(), leaf.signature_key().as_slice(), link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn member(seed: u8, link: &[u8]) -> Member {
        let key = SigningKey::from_bytes(&[seed; 32]);
        Member::new(link, key.verifying_key().to_bytes(), |m| {
            key.sign(&[credential::SIGNATURE_CONTEXT, m].concat())
                .to_bytes()
        })
        .unwrap()
    }

    /// Parse a key package without the link check, as a hostile server (or member) would.
    fn unchecked(bytes: &[u8], crypto: &impl openmls_traits::crypto::OpenMlsCrypto) -> Candidate {
        let MlsMessageBodyIn::KeyPackage(kp) = read_message(bytes, MAX_KEY_PACKAGE_BYTES)
            .unwrap()
            .extract()
        else {
            panic!("not a key package")
        };
        let key_package = kp.validate(crypto, ProtocolVersion::Mls10).unwrap();
        Candidate {
            identity: [0; 32],
            key_package,
            size: bytes.len(),
        }
    }

    #[test]
    fn a_server_that_never_saw_the_link_cannot_make_a_group_anyone_joins() {
        let link = b"the invite link's key, 32 bytes!";
        let mut joiner = member(2, link);
        // The server guesses a link, founds its own group and adds the joiner's key package.
        let mut server = member(9, b"the server's guess at the link!!");
        server.found_group().unwrap();
        let kp = unchecked(&joiner.key_package().unwrap(), server.provider.crypto());
        let commit = server.commit(&[kp], &[]).unwrap();
        assert_eq!(
            joiner.join(&commit.welcome.unwrap()).unwrap_err(),
            E2eeError::WrongLink
        );
        assert!(!joiner.in_group());
        assert_eq!(
            joiner.frames().seal(crate::MediaKind::Audio, &[0x78]),
            Err(crate::FrameError::NoSendKey),
            "nothing is ever sent under such a group"
        );
    }

    #[test]
    fn a_joiner_with_a_wrong_link_learns_nothing_even_if_a_member_adds_them() {
        let link = b"the invite link's key, 32 bytes!";
        let mut host = member(1, link);
        host.found_group().unwrap();
        let mut eve = member(5, b"a different link key, 32 bytes!!");
        let kp = unchecked(&eve.key_package().unwrap(), host.provider.crypto());
        let commit = host.commit(&[kp], &[]).unwrap();
        host.commit_accepted().unwrap();
        assert_eq!(
            eve.join(&commit.welcome.unwrap()).unwrap_err(),
            E2eeError::WrongLink
        );
        let frame = host
            .frames()
            .seal(crate::MediaKind::Audio, &[0x78, 1, 2])
            .unwrap();
        assert_eq!(
            eve.frames().open(crate::MediaKind::Audio, &frame),
            Err(crate::FrameError::NoKey)
        );
    }
}
