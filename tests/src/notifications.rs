//! A desktop notification service (org.freedesktop.Notifications, as GNOME's or KDE's) on a
//! test session bus, which records what it is asked to show: the app's notifications are
//! checked where a person's desktop would show them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One `Notify` call.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Who posted it.
    pub app_name: String,
    /// The notification it replaces (0: none).
    pub replaces_id: u32,
    /// The heading.
    pub summary: String,
    /// The body, as sent (markup escaped or not).
    pub body: String,
}

struct Service {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    #[allow(clippy::too_many_arguments)] // the interface's signature
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        shown.push(Shown {
            app_name,
            replaces_id,
            summary,
            body,
        });
        if replaces_id != 0 {
            replaces_id
        } else {
            shown.len() as u32
        }
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "body-markup".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "parley-test-notifications".into(),
            "parley".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// The running service; it stops when dropped.
pub struct Notifications {
    shown: Arc<Mutex<Vec<Shown>>>,
    _conn: zbus::blocking::Connection,
}

impl Notifications {
    /// Serve on the session bus at `address` (a `DBUS_SESSION_BUS_ADDRESS`).
    pub fn serve(address: &str) -> Notifications {
        let shown = Arc::new(Mutex::new(Vec::new()));
        let conn = zbus::blocking::connection::Builder::address(address)
            .expect("a bus address")
            .name("org.freedesktop.Notifications")
            .expect("the notification service's name")
            .serve_at(
                "/org/freedesktop/Notifications",
                Service {
                    shown: shown.clone(),
                },
            )
            .expect("serve the notification interface")
            .build()
            .expect("connect to the test session bus");
        Notifications { shown, _conn: conn }
    }

    /// Everything shown so far.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }
}
