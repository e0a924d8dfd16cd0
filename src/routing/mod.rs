//! Which providers may serve a model, and in what order to try them.

use crate::config::Provider;
use crate::dialect::Dialect;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The routing table of one config version.
#[derive(Debug)]
pub struct Router {
    providers: Vec<Arc<Provider>>,
    /// Literal model name → every provider serving it (literal or glob match), by priority.
    by_model: HashMap<String, Vec<usize>>,
    /// Providers that serve models by glob, with their compiled globs.
    by_glob: Vec<(usize, GlobSet)>,
}

fn is_glob(name: &str) -> bool {
    name.contains(['*', '?', '[', '{'])
}

impl Router {
    pub fn new(providers: &[Arc<Provider>]) -> Result<Self, globset::Error> {
        let mut by_glob = Vec::new();
        for (i, p) in providers.iter().enumerate() {
            let mut set = GlobSetBuilder::new();
            let mut any = false;
            for m in p.models.iter().filter(|m| is_glob(m)) {
                set.add(Glob::new(m)?);
                any = true;
            }
            if any {
                by_glob.push((i, set.build()?));
            }
        }
        let literals: BTreeSet<&str> = providers
            .iter()
            .flat_map(|p| p.models.iter())
            .filter(|m| !is_glob(m))
            .map(String::as_str)
            .collect();
        let mut by_model = HashMap::with_capacity(literals.len());
        for model in literals {
            let mut serving: Vec<usize> = providers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.models.iter().any(|m| m == model))
                .map(|(i, _)| i)
                .chain(
                    by_glob
                        .iter()
                        .filter(|(_, g)| g.is_match(model))
                        .map(|(i, _)| *i),
                )
                .collect();
            serving.sort_unstable();
            serving.dedup();
            serving.sort_by_key(|&i| providers[i].priority);
            by_model.insert(model.to_string(), serving);
        }
        Ok(Self {
            providers: providers.to_vec(),
            by_model,
            by_glob,
        })
    }

    /// The providers to try for `model`, in order: ascending priority, and within a priority a
    /// random order weighted by `weight`, those speaking the `client`'s dialect first (no
    /// conversion, and the provider's prompt cache sees the client's bytes).
    pub fn plan(&self, model: &str, client: Dialect) -> Vec<Arc<Provider>> {
        let mut serving: Vec<usize> = match self.by_model.get(model) {
            Some(list) => list.clone(),
            None => {
                let mut v: Vec<usize> = self
                    .by_glob
                    .iter()
                    .filter(|(_, g)| g.is_match(model))
                    .map(|(i, _)| *i)
                    .collect();
                v.sort_by_key(|&i| self.providers[i].priority);
                v
            }
        };
        weighted_order(&mut serving, &self.providers, fastrand::f64);
        // Stable: the weighted order holds among providers of the same dialect.
        serving.sort_by_key(|&i| {
            let p = &self.providers[i];
            (p.priority, p.dialect != client)
        });
        serving
            .into_iter()
            .map(|i| self.providers[i].clone())
            .collect()
    }

    /// Every model named literally by some provider, sorted.
    pub fn listed_models(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.by_model.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }
}

/// Shuffles each run of equal priority into a weighted random order (Efraimidis–Spirakis:
/// sort by `-ln(u) / weight`, so a provider comes first with probability weight / total).
fn weighted_order(
    sorted: &mut [usize],
    providers: &[Arc<Provider>],
    mut rand: impl FnMut() -> f64,
) {
    let mut start = 0;
    while start < sorted.len() {
        let prio = providers[sorted[start]].priority;
        let end = sorted[start..]
            .iter()
            .position(|&i| providers[i].priority != prio)
            .map_or(sorted.len(), |n| start + n);
        if end - start > 1 {
            let mut keyed: Vec<(f64, usize)> = sorted[start..end]
                .iter()
                .map(|&i| {
                    let u = rand().max(f64::MIN_POSITIVE);
                    (-u.ln() / f64::from(providers[i].weight), i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (slot, (_, i)) in sorted[start..end].iter_mut().zip(keyed) {
                *slot = i;
            }
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn router(yaml: &str) -> Router {
        let c = Config::parse(Path::new("t.yaml"), yaml, &|_| None).unwrap();
        Router::new(&c.providers).unwrap()
    }

    const YAML: &str = "
listen: 127.0.0.1:1
providers:
  - { name: a, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [gpt-4o], priority: 1, weight: 3 }
  - { name: b, dialect: openai, base_url: http://127.0.0.1:2/v1, models: [gpt-4o], priority: 1, weight: 1 }
  - { name: c, dialect: openai, base_url: http://127.0.0.1:3/v1, models: ['gpt-*'], priority: 0 }
  - { name: d, dialect: openai, base_url: http://127.0.0.1:4/v1, models: ['*'], priority: 5 }
";

    fn names(plan: &[Arc<Provider>]) -> Vec<&str> {
        plan.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn priority_first_then_globs_and_catch_alls() {
        let r = router(YAML);
        let plan = r.plan("gpt-4o", Dialect::OpenAiChat);
        assert_eq!(names(&plan)[0], "c");
        assert_eq!(names(&plan)[3], "d");
        assert_eq!(names(&r.plan("gpt-5", Dialect::OpenAiChat)), ["c", "d"]);
        assert_eq!(names(&r.plan("llama", Dialect::OpenAiChat)), ["d"]);
        // Any client dialect reaches every provider.
        assert_eq!(names(&r.plan("llama", Dialect::AnthropicMessages)), ["d"]);
        assert_eq!(r.listed_models().collect::<Vec<_>>(), ["gpt-4o"]);
    }

    #[test]
    fn weight_sets_the_share_of_first_place() {
        let r = router(YAML);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut a_first = 0;
        for _ in 0..2000 {
            let mut order = vec![0usize, 1];
            weighted_order(&mut order, &r.providers, || rng.f64());
            if order[0] == 0 {
                a_first += 1;
            }
        }
        // weight 3 vs 1: a comes first 3/4 of the time.
        assert!(
            (1400..=1600).contains(&a_first),
            "a first {a_first} of 2000"
        );
    }
}
