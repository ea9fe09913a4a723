//! Publishes a simulated fleet for `jetgate fleet` (`scripts/bench-fleet.sh`): retained
//! `status` and `state` for N devices (see `common/fleet_sim.rs` for their figures), or with
//! `--clear` empty retained messages that make the broker drop them.
//!
//! ```text
//! cargo run --release --example fleet_gen -- [--host 127.0.0.1] [--port 1883] [--prefix jetgate] [--clear] N
//! ```

#[path = "common/fleet_sim.rs"]
mod fleet_sim;

fn main() -> anyhow::Result<()> {
    let (mut host, mut port, mut prefix, mut clear, mut n) = (
        "127.0.0.1".to_string(),
        1883u16,
        "jetgate".to_string(),
        false,
        None,
    );
    let mut args = std::env::args().skip(1);
    let usage = "usage: fleet_gen [--host H] [--port P] [--prefix P] [--clear] N";
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value; {usage}"))
        };
        match a.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse()?,
            "--prefix" => prefix = value()?,
            "--clear" => clear = true,
            _ if n.is_none() && !a.starts_with('-') => n = Some(a.parse::<usize>()?),
            _ => anyhow::bail!("unexpected {a}; {usage}"),
        }
    }
    let n = n.ok_or_else(|| anyhow::anyhow!("{usage}"))?;
    fleet_sim::publish(&host, port, &prefix, n, clear)?;
    let verb = if clear { "cleared" } else { "published" };
    eprintln!("{verb} {n} devices under {prefix}/ on {host}:{port}");
    Ok(())
}
