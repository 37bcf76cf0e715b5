//! Job ids: unguessable, and naming the instance that owns them when several share a load
//! balancer, so `get_job` can be routed to it.

/// 128 random bits from the OS, as a UUID, after the instance's name when it has one:
/// `job-node-2-3f9c…`.
pub(super) fn new_id(instance: Option<&str>) -> String {
    let random = uuid::Uuid::new_v4().simple();
    match instance {
        Some(name) => format!("job-{name}-{random}"),
        None => format!("job-{random}"),
    }
}

/// The instance a job id names, if any.
pub fn owner_of(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("job-")?;
    let (owner, random) = rest.rsplit_once('-')?;
    (random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit()) && !owner.is_empty())
        .then_some(owner)
}
