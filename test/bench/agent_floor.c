/*
 * agent_floor.c - the least a process doing the agent's job can cost: once a tick
 * it makes nvml_floor.c's NVML calls for every GPU (the binding's calls, the
 * per-tick device count included) and stores each GPU's row the way the agent
 * does: SQLite in WAL mode, synchronous=FULL, wal_autocheckpoint=256, foreign
 * keys on, one IMMEDIATE transaction per tick, INSERT OR REPLACE INTO samples (a
 * table shaped like the agent's, src/store/schema.ts, with pcie_tx_throughput and
 * pcie_rx_throughput). Like the agent it also reads the driver's history every tick:
 * each GPU's three sample buffers (nvmlDeviceGetSamples for GPU and memory
 * utilization and power, from the last timestamp seen) averaged over the time each
 * sample covers into the row, and the event set (XID, ECC) drained with a zero
 * timeout. Nothing else: no aggregation, compaction, logging or process names.
 * test/bench/floor.ts runs it beside the agent and compares CPU per tick.
 *
 *   cc -std=c11 -O2 -o agent_floor test/bench/agent_floor.c -ldl -lsqlite3
 *   FAKE_NVML_SCENARIO=test/fake-nvml/scenarios/eight_gpus.conf \
 *       ./agent_floor ./libnvidia-ml.so.1 floor.db 1
 *
 * Ticks fall on wall-clock multiples of the interval, as the agent's do. SIGTERM or
 * SIGINT ends it after the tick in flight (exit 0). It links the system SQLite
 * (Debian: libsqlite3-dev). Linux only.
 */

#define NVML_FLOOR_NO_MAIN
#include "nvml_floor.c"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>

static sqlite3 *g_db;

/* The driver's history (nvml.h): nvmlSample_t, nvmlEventData_t and the calls that fill them. */
typedef struct { unsigned long long timestamp; union { double d; unsigned int u; unsigned long long ull; } value; } fake_sample_t;
typedef struct { void *device; unsigned long long type, data; unsigned int gi, ci; } event_data_t;
typedef nvmlReturn_t (*fn_samples)(nvmlDevice_t, int, unsigned long long, int *, unsigned int *, fake_sample_t *);
typedef nvmlReturn_t (*fn_set_create)(void **);
typedef nvmlReturn_t (*fn_register)(nvmlDevice_t, unsigned long long, void *);
typedef nvmlReturn_t (*fn_wait)(void *, event_data_t *, unsigned int);
#define SAMPLE_CAPACITY 128
static fn_samples g_samples;
static fn_wait g_wait;
static void *g_event_set;
static unsigned long long g_last_seen[MAX_GPUS][3];
static fake_sample_t g_sample_buf[SAMPLE_CAPACITY];

static void open_history(unsigned int gpus) {
    fn_set_create create = (fn_set_create)dlsym(g_lib, "nvmlEventSetCreate");
    fn_register register_events = (fn_register)dlsym(g_lib, "nvmlDeviceRegisterEvents");
    unsigned int i;
    g_samples = (fn_samples)dlsym(g_lib, "nvmlDeviceGetSamples");
    g_wait = (fn_wait)dlsym(g_lib, "nvmlEventSetWait_v2");
    if (create && register_events && g_wait && create(&g_event_set) == NVML_SUCCESS)
        for (i = 0; i < gpus; i++) register_events(g_gpu[i].handle, 0x1 | 0x2 | 0x8, g_event_set);
    /* Start after what the buffers hold now, as the agent does. */
    for (i = 0; i < gpus && g_samples; i++) {
        for (int k = 0; k < 3; k++) {
            int type;
            unsigned int n = SAMPLE_CAPACITY;
            if (g_samples(g_gpu[i].handle, k, 0, &type, &n, g_sample_buf) == NVML_SUCCESS && n > 0)
                g_last_seen[i][k] = g_sample_buf[n - 1].timestamp;
        }
    }
}

/* Each buffer's time-weighted average since the last read replaces the instant's value. */
static void read_history(unsigned int i, gpu_row_t *row) {
    static const int column[3] = {R_POWER_MW, R_GPU_UTILIZATION, R_MEMORY_UTILIZATION};
    for (int k = 0; g_samples && k < 3; k++) {
        int type;
        unsigned int n = SAMPLE_CAPACITY, j;
        double sum = 0, weight = 0;
        unsigned long long last = g_last_seen[i][k];
        if (g_samples(g_gpu[i].handle, k, last, &type, &n, g_sample_buf) != NVML_SUCCESS) continue;
        for (j = 0; j < n; j++) {
            double w = last ? (double)(g_sample_buf[j].timestamp - last) : 100000.0;
            sum += w * g_sample_buf[j].value.u;
            weight += w;
            last = g_sample_buf[j].timestamp;
        }
        g_last_seen[i][k] = last;
        if (weight > 0) ROW_SET(row, column[k], (long long)(sum / weight + 0.5));
    }
}

static void drain_events(void) {
    event_data_t event;
    while (g_event_set && g_wait(g_event_set, &event, 0) == NVML_SUCCESS) g_sink += event.data;
}
static volatile sig_atomic_t g_stop;

static void on_signal(int signal_number) {
    (void)signal_number;
    g_stop = 1;
}

static void die_sql(const char *what) {
    fprintf(stderr, "agent_floor: %s: %s\n", what, sqlite3_errmsg(g_db));
    exit(1);
}

static void exec_sql(const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(g_db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "agent_floor: %s: %s\n", sql, error ? error : "?");
        exit(1);
    }
}

static sqlite3_stmt *prepare(const char *sql) {
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v3(g_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL) != SQLITE_OK) die_sql(sql);
    return statement;
}

static void step_done(sqlite3_stmt *statement, const char *what) {
    if (sqlite3_step(statement) != SQLITE_DONE) die_sql(what);
    sqlite3_reset(statement);
}

int main(int argc, char **argv) {
    static const char *const columns =
        "temperature, memory_used, memory_free, gpu_utilization, memory_utilization, power_mw, power_limit_mw, "
        "fan_speed, graphics_clock, sm_clock, memory_clock, energy_mj, performance_state, clock_event_reasons, "
        "ecc_errors_corrected, ecc_errors_uncorrected, encoder_utilization, decoder_utilization, "
        "pcie_link_generation, pcie_link_width, pcie_tx_throughput, pcie_rx_throughput";
    char sql[1024];
    sqlite3_stmt *begin, *commit, *insert, *add_gpu;
    long long gpu_id[MAX_GPUS];
    static gpu_row_t rows[MAX_GPUS];
    unsigned int gpus, i;
    int opened, c;
    long interval;
    struct sigaction action;

    if (argc != 4 || (interval = atol(argv[3])) <= 0) {
        fprintf(stderr, "usage: %s <path-to-libnvidia-ml> <database> <interval-seconds>\n", argv[0]);
        return 2;
    }
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal; /* no SA_RESTART: the sleep ends at once */
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    opened = nvml_open(argv[1]);
    if (opened < 0) return 1;
    gpus = (unsigned int)opened;
    open_history(gpus);

    if (sqlite3_open(argv[2], &g_db) != SQLITE_OK) die_sql(argv[2]);
    exec_sql("PRAGMA busy_timeout = 5000");
    exec_sql("PRAGMA journal_mode = WAL");
    exec_sql("PRAGMA synchronous = FULL");
    exec_sql("PRAGMA foreign_keys = ON");
    exec_sql("PRAGMA wal_autocheckpoint = 256");
    exec_sql("CREATE TABLE IF NOT EXISTS gpus (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, pci_bus_id TEXT, "
             "name TEXT, serial TEXT, memory_total INTEGER, memory_reserved INTEGER, ecc_enabled INTEGER, "
             "first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL)");
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS samples (ts INTEGER NOT NULL, gpu_id INTEGER NOT NULL REFERENCES gpus(id), "
             "temperature INTEGER, memory_used INTEGER, memory_free INTEGER, gpu_utilization INTEGER, "
             "memory_utilization INTEGER, power_mw INTEGER, power_limit_mw INTEGER, fan_speed INTEGER, "
             "graphics_clock INTEGER, sm_clock INTEGER, memory_clock INTEGER, energy_mj INTEGER, "
             "performance_state INTEGER, clock_event_reasons INTEGER, ecc_errors_corrected INTEGER, "
             "ecc_errors_uncorrected INTEGER, encoder_utilization INTEGER, decoder_utilization INTEGER, "
             "pcie_link_generation INTEGER, pcie_link_width INTEGER, pcie_tx_throughput INTEGER, "
             "pcie_rx_throughput INTEGER, PRIMARY KEY (ts, gpu_id)) WITHOUT ROWID");
    exec_sql(sql);

    /* Each GPU's id, once (the agent keeps them cached too). */
    add_gpu = prepare("INSERT INTO gpus (uid, first_seen, last_seen) VALUES (?1, ?2, ?2) "
                      "ON CONFLICT (uid) DO UPDATE SET last_seen = ?2 RETURNING id");
    for (i = 0; i < gpus; i++) {
        sqlite3_bind_text(add_gpu, 1, g_gpu[i].uuid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(add_gpu, 2, (long long)time(NULL));
        if (sqlite3_step(add_gpu) != SQLITE_ROW) die_sql("adding a GPU");
        gpu_id[i] = sqlite3_column_int64(add_gpu, 0);
        sqlite3_reset(add_gpu);
    }
    sqlite3_finalize(add_gpu);

    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO samples (ts, gpu_id, %s) VALUES (?, ?%s)", columns,
             ", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?");
    insert = prepare(sql);
    begin = prepare("BEGIN IMMEDIATE");
    commit = prepare("COMMIT");

    while (!g_stop) {
        struct timespec now, next;
        long long ts;
        unsigned int counted = 0;
        clock_gettime(CLOCK_REALTIME, &now);
        next.tv_sec = (now.tv_sec / interval + 1) * interval;
        next.tv_nsec = 0;
        while (!g_stop && clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        if (g_stop) break;
        ts = (long long)next.tv_sec;

        /* Sample, then store, as the agent's tick does. */
        f.count(&counted); /* GPUs can come and go */
        g_sink += counted;
        for (i = 0; i < gpus; i++) {
            g_sink += sample_gpu(i, &rows[i]);
            read_history(i, &rows[i]);
        }
        drain_events();
        step_done(begin, "BEGIN IMMEDIATE");
        for (i = 0; i < gpus; i++) {
            sqlite3_bind_int64(insert, 1, ts);
            sqlite3_bind_int64(insert, 2, gpu_id[i]);
            for (c = 0; c < R_COLUMNS; c++) {
                if (rows[i].present & (1u << c)) sqlite3_bind_int64(insert, 3 + c, rows[i].value[c]);
                else sqlite3_bind_null(insert, 3 + c);
            }
            step_done(insert, "INSERT OR REPLACE INTO samples");
        }
        step_done(commit, "COMMIT");
    }

    sqlite3_finalize(insert);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(g_db);
    f.shutdown();
    return 0;
}
