//! Names of the Redis keys and channels of a topic. The kind comes first
//! after the prefix, so no topic name can make two kinds collide.

/// Key and channel names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix` (e.g. `spate:`).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// Hash with the topic's `epoch` and last `seq`.
    pub fn meta(&self, topic: &str) -> String {
        format!("{}m:{topic}", self.prefix)
    }

    /// Stream of retained messages; entry id `<seq>-1`.
    pub fn stream(&self, topic: &str) -> String {
        format!("{}s:{topic}", self.prefix)
    }

    /// Hash of state keys: `<revision>:<value>`.
    pub fn state(&self, topic: &str) -> String {
        format!("{}k:{topic}", self.prefix)
    }

    /// Prefix of every topic channel.
    pub fn channel_prefix(&self) -> String {
        format!("{}c:", self.prefix)
    }

    /// The topic a channel name belongs to.
    pub fn topic_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(&self.prefix)
            .and_then(|c| c.strip_prefix("c:"))
    }

    /// What this node subscribes to in Redis for a spate pattern: the
    /// topic's channel (literal) or a glob that matches at least the
    /// pattern's topics (wildcards); the local trie filters exactly.
    pub fn subscription(&self, pattern: &str) -> (String, bool) {
        let literal = !pattern.split('.').any(|t| t == "*" || t == ">");
        if literal {
            return (format!("{}{pattern}", self.channel_prefix()), false);
        }
        let mut g = glob_escape(&self.channel_prefix());
        for (i, tok) in pattern.split('.').enumerate() {
            if i > 0 {
                g.push('.');
            }
            match tok {
                "*" | ">" => g.push('*'),
                t => g.push_str(&glob_escape(t)),
            }
        }
        (g, true)
    }
}

fn glob_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_wildcard_subscriptions() {
        let k = Keys::new("p:");
        assert_eq!(k.subscription("a.b"), ("p:c:a.b".into(), false));
        assert_eq!(k.subscription("a.*.c"), ("p:c:a.*.c".into(), true));
        assert_eq!(k.subscription(">"), ("p:c:*".into(), true));
        assert_eq!(k.subscription("q?.>"), ("p:c:q\\?.*".into(), true));
        assert_eq!(k.topic_of("p:c:a.b"), Some("a.b"));
        assert_eq!(k.topic_of("x:c:a.b"), None);
    }
}
