//! A small TTL cache with singleflight: concurrent lookups of one key wait for the one
//! computation in flight instead of each calling the registry. Failures are shared with those
//! already waiting but not kept: the next lookup tries again.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// One slot: filled once, fresh until `expires` (set when it is filled).
struct Slot<V> {
    cell: OnceCell<(Result<V, String>, Instant)>,
}

/// Whether a lookup was answered from the cache (or joined one in flight) or computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
}

/// Keys → values for `ttl`, at most `capacity` of them.
pub struct TtlCache<K, V> {
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache keeping values for `ttl`; a zero `ttl` or `capacity` keeps nothing once computed
    /// (concurrent lookups still share one computation).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            slots: Mutex::default(),
            ttl,
            capacity,
        }
    }

    /// The value of `key`: cached if fresh, else computed by `compute` (once for all concurrent
    /// callers).
    pub async fn get_or_compute<F, Fut>(&self, key: K, compute: F) -> (Result<V, String>, Lookup)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, String>>,
    {
        let (slot, lookup) = self.slot(&key);
        let ttl = self.ttl;
        let (result, _) = slot
            .cell
            .get_or_init(|| async move { (compute().await, Instant::now() + ttl) })
            .await
            .clone();
        if result.is_err() || self.ttl.is_zero() || self.capacity == 0 {
            self.remove_if_same(&key, &slot);
        }
        (result, lookup)
    }

    /// The slot for `key`, a new one when there is none or it has expired.
    fn slot(&self, key: &K) -> (Arc<Slot<V>>, Lookup) {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(key) {
            match slot.cell.get() {
                // In flight: join it.
                None => return (slot.clone(), Lookup::Hit),
                Some((_, expires)) if *expires > now => return (slot.clone(), Lookup::Hit),
                Some(_) => {}
            }
        }
        if slots.len() >= self.capacity.max(1) {
            slots.retain(|_, s| s.cell.get().is_none_or(|(_, expires)| *expires > now));
            // Still full of fresh values: drop the one that expires first.
            if slots.len() >= self.capacity.max(1) {
                let oldest = slots
                    .iter()
                    .filter_map(|(k, s)| s.cell.get().map(|(_, e)| (k.clone(), *e)))
                    .min_by_key(|(_, e)| *e)
                    .map(|(k, _)| k);
                if let Some(k) = oldest {
                    slots.remove(&k);
                }
            }
        }
        let slot = Arc::new(Slot {
            cell: OnceCell::new(),
        });
        slots.insert(key.clone(), slot.clone());
        (slot, Lookup::Miss)
    }

    fn remove_if_same(&self, key: &K, slot: &Arc<Slot<V>>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(key);
        }
    }

    /// Forgets everything (the trust configuration changed: old verdicts no longer hold).
    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_lookups_share_one_computation() {
        let cache = Arc::new(TtlCache::<String, u32>::new(Duration::from_secs(60), 10));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_compute("k".into(), || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(7)
                    })
                    .await
            }));
        }
        let mut misses = 0;
        for t in tasks {
            let (value, lookup) = t.await.unwrap();
            assert_eq!(value, Ok(7));
            misses += usize::from(lookup == Lookup::Miss);
        }
        assert_eq!((calls.load(Ordering::SeqCst), misses), (1, 1));
    }

    #[tokio::test]
    async fn values_expire_errors_are_not_kept_and_size_is_bounded() {
        let cache = TtlCache::<u32, u32>::new(Duration::from_millis(30), 2);
        let ok = |v| move || async move { Ok::<_, String>(v) };
        assert_eq!(cache.get_or_compute(1, ok(1)).await.1, Lookup::Miss);
        assert_eq!(cache.get_or_compute(1, ok(9)).await, (Ok(1), Lookup::Hit));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.get_or_compute(1, ok(2)).await, (Ok(2), Lookup::Miss));

        let failed = cache
            .get_or_compute(5, || async { Err::<u32, _>("down".to_string()) })
            .await;
        assert_eq!(failed, (Err("down".into()), Lookup::Miss));
        assert_eq!(cache.get_or_compute(5, ok(5)).await, (Ok(5), Lookup::Miss));

        assert_eq!(cache.get_or_compute(6, ok(6)).await.0, Ok(6));
        assert_eq!(cache.get_or_compute(7, ok(7)).await.0, Ok(7));
        assert!(cache.len() <= 2, "{} keys held", cache.len());
    }
}
