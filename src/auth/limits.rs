//! Per-source-IP and per-user connection counts, and the publish token
//! bucket each user's connections share. Entries exist only while a
//! connection holds them (a guard removes its entry at zero), so the maps
//! are bounded by the number of open connections.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::queue::rate::TokenBucket;

/// One user's live entry.
struct UserEntry {
    conns: u32,
    bucket: Option<Arc<Mutex<TokenBucket>>>,
}

/// Live connection counts and publish buckets.
#[derive(Default)]
pub struct Tracker {
    by_ip: Arc<DashMap<IpAddr, u32>>,
    by_user: Arc<DashMap<Arc<str>, UserEntry>>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("ips", &self.by_ip.len())
            .field("users", &self.by_user.len())
            .finish()
    }
}

/// Holds one connection slot of an IP address; released on drop.
pub struct IpSlot {
    map: Arc<DashMap<IpAddr, u32>>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.map.remove_if_mut(&self.ip, |_, n| {
            *n -= 1;
            *n == 0
        });
    }
}

/// Holds one connection slot of a user; released on drop.
pub struct UserSlot {
    map: Arc<DashMap<Arc<str>, UserEntry>>,
    user: Arc<str>,
    /// The user's shared publish bucket, if the user is rate limited.
    pub bucket: Option<Arc<Mutex<TokenBucket>>>,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        self.map.remove_if_mut(&self.user, |_, e| {
            e.conns -= 1;
            e.conns == 0
        });
    }
}

impl Tracker {
    /// Takes a slot for `ip`; `None` when it already has `max` (0 =
    /// unlimited) connections.
    pub fn connect_ip(&self, ip: IpAddr, max: u32) -> Option<IpSlot> {
        let mut n = self.by_ip.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        drop(n);
        Some(IpSlot {
            map: self.by_ip.clone(),
            ip,
        })
    }

    /// Open connections from `ip`.
    pub fn ip_connections(&self, ip: IpAddr) -> u32 {
        self.by_ip.get(&ip).map_or(0, |n| *n)
    }

    /// Takes a slot for `user`; `None` when it already has `max` (0 =
    /// unlimited) connections. `rate` (messages/s, 0 = unlimited) sizes
    /// the bucket the user's connections share.
    pub fn connect_user(&self, user: &Arc<str>, max: u32, rate: u32) -> Option<UserSlot> {
        let mut e = self.by_user.entry(user.clone()).or_insert(UserEntry {
            conns: 0,
            bucket: None,
        });
        if max > 0 && e.conns >= max {
            if e.conns == 0 {
                drop(e);
                self.by_user.remove_if(user, |_, e| e.conns == 0);
            }
            return None;
        }
        e.conns += 1;
        if e.bucket.is_none() && rate > 0 {
            e.bucket = Some(Arc::new(Mutex::new(TokenBucket::new(rate, Instant::now()))));
        }
        let bucket = if rate > 0 { e.bucket.clone() } else { None };
        drop(e);
        Some(UserSlot {
            map: self.by_user.clone(),
            user: user.clone(),
            bucket,
        })
    }
}

/// Takes one token from `bucket` if one is available now.
pub fn try_take(bucket: &Mutex<TokenBucket>) -> bool {
    let mut b = bucket.lock();
    if b.available(Instant::now()) >= 1 {
        b.take(1);
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_slots_count_and_release() {
        let t = Tracker::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = t.connect_ip(ip, 2).unwrap();
        let _b = t.connect_ip(ip, 2).unwrap();
        assert!(t.connect_ip(ip, 2).is_none());
        drop(a);
        assert!(t.connect_ip(ip, 2).is_some());
        assert_eq!(t.ip_connections(ip), 1);
    }

    #[test]
    fn user_slots_share_one_bucket_and_clean_up() {
        let t = Tracker::default();
        let u: Arc<str> = "alice".into();
        let a = t.connect_user(&u, 2, 10).unwrap();
        let b = t.connect_user(&u, 2, 10).unwrap();
        assert!(Arc::ptr_eq(
            a.bucket.as_ref().unwrap(),
            b.bucket.as_ref().unwrap()
        ));
        assert!(t.connect_user(&u, 2, 10).is_none());
        drop((a, b));
        assert!(t.by_user.is_empty());
    }
}
