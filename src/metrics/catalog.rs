//! Every metric the endpoint can export: name, type and help, in the order they are written.
//! `docs/metrics.md` lists the same names (a test holds the two together), and the renderer
//! writes only what is here.
//!
//! Names follow Prometheus' conventions: base units in the name (`_bytes`, `_seconds`,
//! `_celsius`, `_hertz`, `_watts`, `_ratio` for 0..1), counters named without `_total` here
//! (their samples carry it), info metrics without `_info`.

/// How a metric behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Gauge,
    /// Only goes up while the agent runs; samples are `NAME_total`.
    Counter,
    /// A constant 1 whose labels carry the information; samples are `NAME_info`.
    Info,
}

/// One metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The family name (without `_total` or `_info`).
    pub name: &'static str,
    pub kind: Type,
    pub help: &'static str,
}

impl Metric {
    /// The name its samples carry: `NAME_total` for a counter, `NAME_info` for info.
    pub fn sample_name(&self) -> String {
        match self.kind {
            Type::Gauge => self.name.to_string(),
            Type::Counter => format!("{}_total", self.name),
            Type::Info => format!("{}_info", self.name),
        }
    }

    /// The unit OpenMetrics' `# UNIT` line names: the suffix of the family name, if it is one.
    pub fn unit(&self) -> Option<&'static str> {
        const UNITS: [&str; 7] = [
            "bytes_per_second",
            "bytes",
            "seconds",
            "celsius",
            "hertz",
            "watts",
            "ratio",
        ];
        UNITS
            .into_iter()
            .find(|u| self.name.ends_with(&format!("_{u}")))
    }
}

macro_rules! metrics {
    ($( $id:ident = $name:literal, $kind:ident, $help:literal; )*) => {
        $( pub const $id: Metric = Metric { name: $name, kind: Type::$kind, help: $help }; )*
        /// Every metric, in the order they are written.
        pub const ALL: &[Metric] = &[$($id),*];
    };
}

metrics! {
    DEVICE = "jetgate_device", Info, "The device: its configured id and detected board.";
    MEM_AVAILABLE = "jetgate_memory_available_bytes", Gauge, "Room for a new allocation per the memory model (MemAvailable, or the cgroup's room when scoped), swap excluded.";
    MEM_MEM_AVAILABLE = "jetgate_memory_mem_available_bytes", Gauge, "MemAvailable of /proc/meminfo.";
    MEM_TOTAL = "jetgate_memory_total_bytes", Gauge, "MemTotal of /proc/meminfo.";
    MEM_FREE = "jetgate_memory_free_bytes", Gauge, "MemFree of /proc/meminfo.";
    MEM_CACHED = "jetgate_memory_cached_bytes", Gauge, "Cached of /proc/meminfo.";
    MEM_SWAP_TOTAL = "jetgate_memory_swap_total_bytes", Gauge, "SwapTotal of /proc/meminfo.";
    MEM_SWAP_USED = "jetgate_memory_swap_used_bytes", Gauge, "Swap in use (SwapTotal - SwapFree).";
    MEM_GPU_HELD = "jetgate_memory_gpu_held_bytes", Gauge, "Memory the GPU driver holds (NvMapMemUsed); absent where the kernel prints none.";
    MEM_CMA_TOTAL = "jetgate_memory_cma_total_bytes", Gauge, "CmaTotal of /proc/meminfo; absent where the kernel prints none.";
    MEM_CMA_FREE = "jetgate_memory_cma_free_bytes", Gauge, "CmaFree of /proc/meminfo; absent where the kernel prints none.";
    MEM_CGROUP_LIMIT = "jetgate_memory_cgroup_limit_bytes", Gauge, "The scope cgroup's memory limit; absent without a cgroup or a limit.";
    MEM_CGROUP_USAGE = "jetgate_memory_cgroup_usage_bytes", Gauge, "The scope cgroup's memory usage.";
    MEM_CGROUP_RECLAIMABLE = "jetgate_memory_cgroup_reclaimable_bytes", Gauge, "The scope cgroup's reclaimable file pages.";
    MEM_CGROUP_OOM_KILLS = "jetgate_memory_cgroup_oom_kills", Counter, "OOM kills the kernel counts in the scope cgroup (the kernel's counter).";
    MEM_PRESSURE = "jetgate_memory_pressure_ratio", Gauge, "Memory pressure (PSI): share of time stalled, by kind (some, full) and window (10s, 60s).";
    MEM_SAMPLE_AGE = "jetgate_memory_sample_age_seconds", Gauge, "Age of the memory sample these figures come from.";
    GATE_RESERVE = "jetgate_gate_reserve_bytes", Gauge, "Memory the gate never lends to a load.";
    GATE_BUDGET = "jetgate_gate_budget_bytes", Gauge, "The budget a load is admitted on: the smaller of the available and ledger budgets.";
    GATE_AVAILABLE_BUDGET = "jetgate_gate_available_budget_bytes", Gauge, "available - reserve - outstanding.";
    GATE_LEDGER_BUDGET = "jetgate_gate_ledger_budget_bytes", Gauge, "total - committed - reserve - outstanding.";
    GATE_COMMITTED = "jetgate_gate_committed_bytes", Gauge, "Memory committed to the loaded models (the ledger).";
    GATE_OUTSTANDING = "jetgate_gate_outstanding_bytes", Gauge, "The load in flight's need not yet consumed, plus external reservations.";
    GATE_RESERVED = "jetgate_gate_reserved_bytes", Gauge, "External reservations alone (a leaking unit's projected growth).";
    GATE_QUEUE = "jetgate_gate_queue_length", Gauge, "Load requests waiting in the gate's queue.";
    GATE_IN_FLIGHT = "jetgate_gate_loads_in_flight", Gauge, "Loads admitted and not yet ready and settled (0 or 1).";
    GATE_LOAD_ELAPSED = "jetgate_gate_load_elapsed_seconds", Gauge, "Time since the load in flight was admitted, by model and phase.";
    GATE_DECISIONS = "jetgate_gate_decisions", Counter, "The gate's decisions since the agent started, by decision and reason.";
    UNIT_STATE = "jetgate_unit_state", Gauge, "1 for each model's or service's current state, 0 for the others.";
    UNIT_MEMORY = "jetgate_unit_memory_bytes", Gauge, "Whole process tree PSS (RSS where PSS is unavailable) of a running unit.";
    UNIT_GPU = "jetgate_unit_gpu_memory_bytes", Gauge, "GPU memory a running unit's process tree holds, where the board has a per-process figure.";
    UNIT_RESTARTS = "jetgate_unit_restarts", Counter, "Restarts of a unit since the agent started.";
    UNIT_BACKOFF = "jetgate_unit_backoff_seconds", Gauge, "Time until a backing-off unit's next start attempt; 0 when it is not backing off.";
    UNIT_LEAK_SLOPE = "jetgate_unit_leak_slope_bytes_per_second", Gauge, "Robust slope (Theil-Sen) of a unit's tree memory over its leak window.";
    EVENTS = "jetgate_events", Counter, "Events the agent emitted since it started, by kind.";
    STORE_OK = "jetgate_store_ok", Gauge, "1 while the store takes writes, 0 while they fail.";
    STORE_WRITE_FAILURES = "jetgate_store_write_failures", Counter, "Store writes that failed since the agent started.";
    MQTT_ENABLED = "jetgate_mqtt_enabled", Gauge, "1 when an [mqtt] link is configured.";
    MQTT_CONNECTED = "jetgate_mqtt_connected", Gauge, "1 while the link is connected to its broker.";
    MQTT_SESSION = "jetgate_mqtt_session", Gauge, "The link's session number (raised at each connection after a loss).";
    MQTT_OUTBOX = "jetgate_mqtt_outbox_events", Gauge, "Events stored after the acknowledged cursor: waiting to be sent or acknowledged.";
    MQTT_IN_FLIGHT = "jetgate_mqtt_in_flight_events", Gauge, "Events published and not yet acknowledged.";
    MQTT_DROPPED = "jetgate_mqtt_outbox_dropped_events", Counter, "Unsent events the outbox limit dropped since the agent started.";
    MQTT_CONNECTIONS = "jetgate_mqtt_connections", Counter, "Connections to the broker made since the agent started.";
    MQTT_CONNECT_FAILURES = "jetgate_mqtt_connect_failures", Counter, "Connection attempts that failed since the agent started.";
    TEGRA_UP = "jetgate_tegrastats_up", Gauge, "1 while tegrastats lines arrive, 0 while it is starting or unavailable.";
    TEGRA_AGE = "jetgate_tegrastats_sample_age_seconds", Gauge, "Age of the tegrastats sample the figures below come from.";
    CPU_LOAD = "jetgate_cpu_load_ratio", Gauge, "Load of each CPU core that is on (tegrastats).";
    CPU_FREQ = "jetgate_cpu_frequency_hertz", Gauge, "Clock of each CPU core that is on (tegrastats).";
    GPU_LOAD = "jetgate_gpu_load_ratio", Gauge, "GPU load (tegrastats GR3D).";
    GPU_FREQ = "jetgate_gpu_frequency_hertz", Gauge, "GPU clock, by GPC (tegrastats).";
    EMC_LOAD = "jetgate_emc_load_ratio", Gauge, "Memory controller load (tegrastats EMC).";
    EMC_FREQ = "jetgate_emc_frequency_hertz", Gauge, "Memory controller clock (tegrastats EMC).";
    TEMPERATURE = "jetgate_temperature_celsius", Gauge, "Temperature of each sensor tegrastats prints (sensors that read off are absent).";
    RAIL_POWER = "jetgate_rail_power_watts", Gauge, "Instantaneous power of each rail tegrastats prints.";
    AGENT = "jetgate_agent", Info, "The agent's version.";
    AGENT_START = "jetgate_agent_start_time_seconds", Gauge, "When the agent started, seconds since the Unix epoch.";
    AGENT_CPU = "jetgate_agent_cpu_seconds", Counter, "CPU time the agent used (user and system).";
    AGENT_RSS = "jetgate_agent_resident_memory_bytes", Gauge, "The agent's resident set size.";
    AGENT_ZOMBIES = "jetgate_agent_zombies_reaped", Counter, "Orphaned children the agent reaped since it started.";
    HEAP_ALLOCATED = "jetgate_agent_heap_allocated_bytes", Gauge, "jemalloc: bytes the agent holds (stats.allocated).";
    HEAP_ACTIVE = "jetgate_agent_heap_active_bytes", Gauge, "jemalloc: bytes in active pages (stats.active).";
    HEAP_RESIDENT = "jetgate_agent_heap_resident_bytes", Gauge, "jemalloc: bytes of heap resident in RAM (stats.resident).";
    HEAP_MAPPED = "jetgate_agent_heap_mapped_bytes", Gauge, "jemalloc: bytes in active extents (stats.mapped).";
    HEAP_RETAINED = "jetgate_agent_heap_retained_bytes", Gauge, "jemalloc: virtual memory retained for reuse, not resident (stats.retained).";
    HEAP_METADATA = "jetgate_agent_heap_metadata_bytes", Gauge, "jemalloc: its own metadata (stats.metadata).";
}
