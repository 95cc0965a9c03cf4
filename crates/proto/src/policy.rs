//! Roles, permissions and the switches a host controls. The server enforces every one of them.

use serde::{Deserialize, Serialize};

/// A participant's role in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the meeting; exactly one at a time while a host is present.
    Host,
    /// Helps the host: admits, removes, mutes, locks.
    Cohost,
    /// Everyone else.
    Participant,
}

/// Something a role may do. Roles are named sets of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Permission {
    /// Admit or deny people in the waiting room; see who waits.
    Admit,
    /// Lock and unlock the meeting.
    Lock,
    /// Remove (and ban) participants below one's own role.
    Remove,
    /// Mute all, ask to unmute.
    Mute,
    /// Change the meeting's switches and capacity.
    ChangePolicy,
    /// Set or clear the passcode.
    ChangePasscode,
    /// Make or revoke co-hosts.
    ManageCohosts,
    /// Hand the host role to someone else.
    TransferHost,
    /// End the meeting for everyone.
    End,
    /// Chat, share the screen and unmute even when the switches forbid it for participants.
    Override,
    /// Open, close and share polls, and see the votes.
    Polls,
    /// Open, visit, message and close breakout rooms.
    Breakouts,
}

const HOST: &[Permission] = &[
    Permission::Admit,
    Permission::Lock,
    Permission::Remove,
    Permission::Mute,
    Permission::ChangePolicy,
    Permission::ChangePasscode,
    Permission::ManageCohosts,
    Permission::TransferHost,
    Permission::End,
    Permission::Override,
    Permission::Polls,
    Permission::Breakouts,
];
const COHOST: &[Permission] = &[
    Permission::Admit,
    Permission::Lock,
    Permission::Remove,
    Permission::Mute,
    Permission::Override,
    Permission::Polls,
    Permission::Breakouts,
];

impl Role {
    /// The permissions this role holds.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Host => HOST,
            Role::Cohost => COHOST,
            Role::Participant => &[],
        }
    }

    /// Whether this role holds `p`.
    pub fn can(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

/// Who may share their screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareRule {
    /// Hosts and co-hosts only (the default).
    HostsOnly,
    /// Anyone admitted.
    Everyone,
}

/// The meeting's switches. Defaults are the privacy-friendly values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Newcomers wait until a host or co-host admits them.
    pub waiting_room: bool,
    /// If the host drops and no co-host is present, the longest-present participant becomes host.
    pub auto_promote: bool,
    /// Participants may send messages to everyone.
    pub chat: bool,
    /// Participants may send private messages to each other (a message to a host always works).
    pub private_chat: bool,
    /// Participants may change their own display name.
    pub rename: bool,
    /// Participants may unmute themselves after the host muted them.
    pub unmute_self: bool,
    /// Who may share their screen.
    pub screen_share: ShareRule,
    /// Participants may offer files.
    pub file_transfer: bool,
    /// Participants may save the chat (enforced by honest clients; the server relays the flag).
    pub save_chat: bool,
    /// Joins and leaves are announced to everyone.
    pub announce_join_leave: bool,
    /// Most admitted participants, hosts included.
    pub capacity: u32,
    /// Participants may record the meeting on their own computer (each recording is announced
    /// to everyone, and to whoever comes later, before they enter).
    #[serde(default)]
    pub recording: bool,
    /// Event mode, for a town hall: only hosts, co-hosts and the participants a host puts on
    /// the stage may be heard or seen; everyone else is muted, their microphone and camera
    /// are not forwarded, and they may not unmute (they may raise a hand to ask).
    #[serde(default)]
    pub event_mode: bool,
    /// Only hosts and co-hosts may change the shared notes and whiteboard (everyone still
    /// reads them).
    #[serde(default)]
    pub notes_locked: bool,
}

/// Default room capacity when the host sets none.
pub const DEFAULT_CAPACITY: u32 = 1_000;
/// Largest capacity a room may have.
pub const MAX_CAPACITY: u32 = 5_000;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            waiting_room: true,
            auto_promote: true,
            chat: true,
            private_chat: true,
            rename: true,
            unmute_self: true,
            screen_share: ShareRule::HostsOnly,
            file_transfer: false,
            save_chat: false,
            announce_join_leave: true,
            capacity: DEFAULT_CAPACITY,
            event_mode: false,
            recording: false,
            notes_locked: false,
        }
    }
}

/// A partial change to the switches: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    /// See [`Policy::waiting_room`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_room: Option<bool>,
    /// See [`Policy::auto_promote`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promote: Option<bool>,
    /// See [`Policy::chat`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<bool>,
    /// See [`Policy::private_chat`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_chat: Option<bool>,
    /// See [`Policy::rename`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rename: Option<bool>,
    /// See [`Policy::unmute_self`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmute_self: Option<bool>,
    /// See [`Policy::screen_share`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_share: Option<ShareRule>,
    /// See [`Policy::file_transfer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_transfer: Option<bool>,
    /// See [`Policy::save_chat`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_chat: Option<bool>,
    /// See [`Policy::announce_join_leave`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_join_leave: Option<bool>,
    /// See [`Policy::capacity`]; 1 to [`MAX_CAPACITY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// See [`Policy::event_mode`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_mode: Option<bool>,
    /// See [`Policy::recording`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<bool>,
    /// See [`Policy::notes_locked`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_locked: Option<bool>,
}

impl Policy {
    /// Apply a change. Returns `false` (and changes nothing) if the capacity is out of range.
    pub fn apply(&mut self, c: &PolicyChange) -> bool {
        if let Some(cap) = c.capacity
            && !(1..=MAX_CAPACITY).contains(&cap)
        {
            return false;
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = c.$f { self.$f = v; } )* };
        }
        set!(
            waiting_room,
            auto_promote,
            chat,
            private_chat,
            rename,
            unmute_self,
            screen_share,
            file_transfer,
            save_chat,
            announce_join_leave,
            capacity,
            event_mode,
            recording,
            notes_locked
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_private() {
        let p = Policy::default();
        assert!(p.waiting_room);
        assert!(!p.file_transfer);
        assert!(!p.save_chat);
        assert!(!p.recording);
        assert!(!p.notes_locked);
        assert_eq!(p.screen_share, ShareRule::HostsOnly);
        assert!(p.announce_join_leave);
    }

    #[test]
    fn roles_are_named_sets() {
        assert!(Role::Host.can(Permission::End));
        assert!(!Role::Cohost.can(Permission::End));
        assert!(Role::Cohost.can(Permission::Admit));
        assert!(!Role::Participant.can(Permission::Admit));
        assert!(Role::Participant.permissions().is_empty());
    }

    #[test]
    fn partial_change_applies_only_given_fields() {
        let mut p = Policy::default();
        let c: PolicyChange = serde_json::from_str(r#"{"chat":false,"capacity":10}"#).unwrap();
        assert!(p.apply(&c));
        assert!(!p.chat);
        assert_eq!(p.capacity, 10);
        assert!(p.waiting_room);
        let bad = PolicyChange {
            capacity: Some(0),
            chat: Some(true),
            ..Default::default()
        };
        assert!(!p.apply(&bad));
        assert!(!p.chat, "a refused change changes nothing");
        assert!(serde_json::from_str::<PolicyChange>(r#"{"nope":true}"#).is_err());
    }
}
