//! `memory = "auto"`: a model's memory estimated from its weights before each load, on a
//! blocking thread (the header of a big GGUF may be tens of megabytes of vocabulary to seek
//! over), the result coming back as [`Input::Estimated`] on the feedback channel, as a weights
//! hash does. The estimate reads the model's command line and environment as the server will
//! see them: the agent's own `LLAMA_ARG_*` variables under the model's `env`.

use std::collections::BTreeMap;

use super::{Executor, Feedback};
use crate::agent::engine::Input;
use crate::estimate::estimate_file;

impl Executor {
    pub(super) fn estimate(&mut self, name: &str) {
        let Some(launch) = self.launches.get(name) else {
            return;
        };
        let Some(path) = launch.estimate_from.clone() else {
            let _ = self.feedback.send(Feedback::Engine(Input::Estimated {
                name: name.into(),
                result: Err("no weights file to estimate from".into()),
            }));
            return;
        };
        // A container's server reads its entrypoint's args and only the `env` passed in.
        let (args, mut env): (Vec<String>, BTreeMap<String, String>) = match &launch.spec.container
        {
            Some(c) => (c.args.clone(), c.env.iter().cloned().collect()),
            None => (
                launch.spec.argv.iter().skip(1).cloned().collect(),
                std::env::vars()
                    .filter(|(k, _)| k.starts_with("LLAMA_ARG_"))
                    .collect(),
            ),
        };
        env.extend(launch.spec.env.iter().cloned());
        let feedback = self.feedback.clone();
        let name = name.to_string();
        self.tasks.spawn_blocking(move || {
            let result = estimate_file(&path, &args, &env).map_err(|e| e.to_string());
            let _ = feedback.send(Feedback::Engine(Input::Estimated { name, result }));
        });
    }
}
