/*
 * nvml_floor.c - the cost of one full NVML sample from C: the floor that the
 * Bun binding's per-sample overhead is compared against.
 *
 *   cc -O2 -o nvml_floor test/bench/nvml_floor.c -ldl
 *   FAKE_NVML_SCENARIO=test/fake-nvml/scenarios/eight_gpus.conf \
 *       ./nvml_floor ./libnvidia-ml.so.1 100000
 *
 * It dlopens the library, resolves every function with the binding's
 * preference order (newest symbol first, falling back to older ones), inits,
 * takes every GPU's handle and reads the static identity once (UUID, name,
 * serial, PCI info, fan count, ECC mode). Then, timed on the process CPU
 * clock, it takes <iterations> full samples. One full sample reads, for every
 * GPU, the calls the binding makes: MemoryInfo, UtilizationRates, Temperature,
 * FanSpeed_v2 for each fan (or the single-fan FanSpeed where the fan count is
 * unknown or zero, or a fan does not answer), PowerUsage, EnforcedPowerLimit,
 * TotalEnergyConsumption, ClockInfo x3, PerformanceState, ClocksEventReasons,
 * TotalEccErrors x2 (volatile corrected and uncorrected, unless ECC is known to
 * be off), Encoder/DecoderUtilization, CurrPcieLinkGeneration/Width,
 * PcieThroughput x2 (TX, counter 0; RX, counter 1), RemappedRows and the compute
 * and graphics process lists. Each GPU's values go into a row (gpu_row_t: the columns the agent
 * stores), and every output is folded into a volatile accumulator so nothing is
 * optimised away. Prints one JSON line:
 *   {"gpus":8,"iterations":N,"ns_per_sample":X,"ns_per_gpu_sample":Y}
 * With a third argument, --per-call, it then times every call on its own (CPU
 * and wall clock, since a real driver can wait in the kernel) in a second
 * pass and prints one more line per kind of call, most expensive first:
 *   {"call":"power","calls_per_gpu_sample":1,"cpu_ns":X,"wall_ns":Y}
 * That answers "which metric costs what" on a host with a real GPU.
 * Linux only (dlfcn, clock_gettime).
 *
 * agent_floor.c includes this file (with NVML_FLOOR_NO_MAIN) to make the same
 * calls once a tick and store the rows as the agent does.
 */

#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t; /* an int-sized C enum in nvml.h */
typedef void *nvmlDevice_t;

#define NVML_SUCCESS 0
#define MAX_GPUS 64
#define PROC_CAPACITY 64
#define PROC_MAX_ENTRY 32 /* largest entry any driver writes (535.43-535.86 _v3) */
#define MEMORY_V2_VERSION (40u | (2u << 24))

typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} memory_v2_t;

typedef struct {
    unsigned long long total, free, used;
} memory_v1_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} pci_v3_t;

typedef struct {
    char busId[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId, reserved[4];
} pci_legacy_t;

typedef nvmlReturn_t (*fn_void)(void);
typedef nvmlReturn_t (*fn_uptr)(unsigned int *);
typedef nvmlReturn_t (*fn_handle)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*fn_str)(char *, unsigned int);
typedef nvmlReturn_t (*fn_dev_str)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*fn_dev_ptr)(nvmlDevice_t, void *);
typedef nvmlReturn_t (*fn_dev_u32)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*fn_dev_u64)(nvmlDevice_t, unsigned long long *);
typedef nvmlReturn_t (*fn_dev_int_u32)(nvmlDevice_t, int, unsigned int *);
typedef nvmlReturn_t (*fn_dev_idx_u32)(nvmlDevice_t, unsigned int, unsigned int *);
typedef nvmlReturn_t (*fn_dev_2u32)(nvmlDevice_t, unsigned int *, unsigned int *);
typedef nvmlReturn_t (*fn_dev_2int)(nvmlDevice_t, int *, int *);
typedef nvmlReturn_t (*fn_dev_4u32)(nvmlDevice_t, unsigned int *, unsigned int *, unsigned int *, unsigned int *);
typedef nvmlReturn_t (*fn_ecc)(nvmlDevice_t, int, int, unsigned long long *);
typedef nvmlReturn_t (*fn_procs)(nvmlDevice_t, unsigned int *, void *);

/* One GPU's sample: the agent's samples columns, in its order; a call that failed leaves its bit clear (NULL). */
enum { R_TEMPERATURE, R_MEMORY_USED, R_MEMORY_FREE, R_GPU_UTILIZATION, R_MEMORY_UTILIZATION, R_POWER_MW,
       R_POWER_LIMIT_MW, R_FAN_SPEED, R_GRAPHICS_CLOCK, R_SM_CLOCK, R_MEMORY_CLOCK, R_ENERGY_MJ,
       R_PERFORMANCE_STATE, R_CLOCK_EVENT_REASONS, R_ECC_CORRECTED, R_ECC_UNCORRECTED, R_ENCODER_UTILIZATION,
       R_DECODER_UTILIZATION, R_PCIE_LINK_GENERATION, R_PCIE_LINK_WIDTH, R_PCIE_TX_THROUGHPUT,
       R_PCIE_RX_THROUGHPUT, R_COLUMNS };

typedef struct {
    long long value[R_COLUMNS];
    unsigned int present; /* bit per column */
} gpu_row_t;

#define ROW_SET(row, column, v) ((row)->value[column] = (long long)(v), (row)->present |= 1u << (column))

static void *g_lib;

static const char *g_resolved; /* the symbol the last RESOLVE bound, or "" */

/* The first of the NULL-terminated names the library has. */
static void *resolve(const char *const *names) {
    for (; *names; names++) {
        void *p = dlsym(g_lib, *names);
        if (p) {
            g_resolved = *names;
            return p;
        }
    }
    g_resolved = "";
    return NULL;
}

#define RESOLVE(field, type, ...)                                  \
    do {                                                           \
        static const char *const names_[] = {__VA_ARGS__, NULL};   \
        f.field = (type)resolve(names_);                           \
    } while (0)

static struct {
    fn_void init, shutdown;
    fn_uptr count;
    fn_handle handle;
    fn_str driver_version;
    fn_dev_str uuid, name, serial;
    fn_dev_ptr pci, memory, utilization;
    fn_dev_int_u32 temperature, clock;
    fn_dev_u32 num_fans, fan_speed_v1, power, enforced_limit, pcie_gen, pcie_width;
    fn_dev_idx_u32 fan_speed;
    fn_dev_u64 energy, event_reasons;
    fn_dev_ptr pstate;
    fn_dev_2int ecc_mode;
    fn_ecc ecc_errors;
    fn_dev_2u32 encoder, decoder;
    fn_dev_int_u32 pcie_throughput;
    fn_dev_4u32 remapped_rows;
    fn_procs compute, graphics;
} f;

static struct {
    nvmlDevice_t handle;
    unsigned int fans;
    int fans_known; /* NumFans answered */
    int ecc_on; /* not known to be off */
    char uuid[96];
} g_gpu[MAX_GPUS];

static unsigned char g_proc_buf[PROC_CAPACITY * PROC_MAX_ENTRY] __attribute__((aligned(8)));
static volatile unsigned long long g_sink;

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int memory_v2, process_stride;

/* --per-call: time of each kind of call, summed over the profiled samples. */
enum { C_MEMORY, C_UTILIZATION, C_TEMPERATURE, C_FAN, C_POWER, C_LIMIT, C_ENERGY, C_CLOCK, C_PSTATE,
       C_REASONS, C_ECC, C_ENCODER, C_DECODER, C_PCIE_GEN, C_PCIE_WIDTH, C_PCIE_THROUGHPUT, C_REMAPPED, C_COMPUTE, C_GRAPHICS,
       C_COUNT, C_SLOTS };
static const char *const g_slot_name[C_SLOTS] = {
    "memory", "utilization", "temperature", "fan_speed", "power_usage", "enforced_power_limit",
    "energy", "clock_info", "performance_state", "clocks_event_reasons", "ecc_errors",
    "encoder_utilization", "decoder_utilization", "pcie_link_generation", "pcie_link_width",
    "pcie_throughput", "remapped_rows", "compute_processes", "graphics_processes", "device_count" /* once per sample of every GPU, as the agent's tick */};
static double g_slot_cpu[C_SLOTS + 1], g_slot_wall[C_SLOTS + 1]; /* + the clocks' own cost */
static long long g_slot_calls[C_SLOTS + 1];
static int g_profile;
static struct timespec g_cpu0, g_wall0;

static void call_begin(void) {
    clock_gettime(CLOCK_MONOTONIC, &g_wall0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &g_cpu0);
}

static void call_end(int slot) {
    struct timespec cpu, wall;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    clock_gettime(CLOCK_MONOTONIC, &wall);
    g_slot_cpu[slot] += (double)(cpu.tv_sec - g_cpu0.tv_sec) * 1e9 + (double)(cpu.tv_nsec - g_cpu0.tv_nsec);
    g_slot_wall[slot] += (double)(wall.tv_sec - g_wall0.tv_sec) * 1e9 + (double)(wall.tv_nsec - g_wall0.tv_nsec);
    g_slot_calls[slot]++;
}

/* One NVML call, its result in r; timed on its own only when profiling. */
#define CALL(slot, call) (g_profile ? (call_begin(), r = (call), call_end(slot), r) : (r = (call)))

/* Reads GPU i into row (the agent's columns) and returns every output folded into one number. */
static unsigned long long sample_gpu(unsigned int i, gpu_row_t *row) {
    nvmlDevice_t d = g_gpu[i].handle;
    unsigned long long acc = 0, u64;
    unsigned int u32, a, b, fan, n, k;
    int pstate;
    nvmlReturn_t r;

    row->present = 0;
    if (memory_v2) {
        memory_v2_t m;
        m.version = MEMORY_V2_VERSION;
        CALL(C_MEMORY, f.memory(d, &m));
        acc += (unsigned long long)r + m.total + m.reserved + m.free + m.used;
        if (r == NVML_SUCCESS) ROW_SET(row, R_MEMORY_USED, m.used), ROW_SET(row, R_MEMORY_FREE, m.free);
    } else {
        memory_v1_t m;
        CALL(C_MEMORY, f.memory(d, &m));
        acc += (unsigned long long)r + m.total + m.free + m.used;
        if (r == NVML_SUCCESS) ROW_SET(row, R_MEMORY_USED, m.used), ROW_SET(row, R_MEMORY_FREE, m.free);
    }
    {
        unsigned int util[2] = {0, 0};
        CALL(C_UTILIZATION, f.utilization(d, util));
        acc += (unsigned long long)r + util[0] + util[1];
        if (r == NVML_SUCCESS) ROW_SET(row, R_GPU_UTILIZATION, util[0]), ROW_SET(row, R_MEMORY_UTILIZATION, util[1]);
    }
    CALL(C_TEMPERATURE, f.temperature(d, 0 /* NVML_TEMPERATURE_GPU */, &u32));
    acc += (unsigned long long)r + u32;
    if (r == NVML_SUCCESS) ROW_SET(row, R_TEMPERATURE, u32);
    { /* as the binding: each fan through FanSpeed_v2, else (no fan count, no fan, or one
       * that will not answer) the single-fan call, even where it answers NOT_SUPPORTED;
       * the row gets the fans' mean */
        int every_fan = 0;
        unsigned long long sum = 0;
        if (f.fan_speed && g_gpu[i].fans_known && g_gpu[i].fans > 0) {
            every_fan = 1;
            for (fan = 0; fan < g_gpu[i].fans; fan++) {
                CALL(C_FAN, f.fan_speed(d, fan, &u32));
                acc += (unsigned long long)r + u32;
                sum += u32;
                if (r != NVML_SUCCESS) {
                    every_fan = 0;
                    break;
                }
            }
            if (every_fan) ROW_SET(row, R_FAN_SPEED, (sum + g_gpu[i].fans / 2) / g_gpu[i].fans);
        }
        if (!every_fan && f.fan_speed_v1) {
            CALL(C_FAN, f.fan_speed_v1(d, &u32));
            acc += (unsigned long long)r + u32;
            if (r == NVML_SUCCESS) ROW_SET(row, R_FAN_SPEED, u32);
        }
    }
    CALL(C_POWER, f.power(d, &u32));
    acc += (unsigned long long)r + u32;
    if (r == NVML_SUCCESS) ROW_SET(row, R_POWER_MW, u32);
    CALL(C_LIMIT, f.enforced_limit(d, &u32));
    acc += (unsigned long long)r + u32;
    if (r == NVML_SUCCESS) ROW_SET(row, R_POWER_LIMIT_MW, u32);
    if (f.energy) {
        CALL(C_ENERGY, f.energy(d, &u64));
        acc += (unsigned long long)r + u64;
        if (r == NVML_SUCCESS) ROW_SET(row, R_ENERGY_MJ, u64);
    }
    for (k = 0; k < 3; k++) { /* NVML_CLOCK_GRAPHICS, _SM, _MEM */
        CALL(C_CLOCK, f.clock(d, (int)k, &u32));
        acc += (unsigned long long)r + u32;
        if (r == NVML_SUCCESS) ROW_SET(row, R_GRAPHICS_CLOCK + (int)k, u32);
    }
    CALL(C_PSTATE, f.pstate(d, &pstate));
    acc += (unsigned long long)r + (unsigned int)pstate;
    if (r == NVML_SUCCESS && pstate >= 0 && pstate <= 15) ROW_SET(row, R_PERFORMANCE_STATE, pstate);
    CALL(C_REASONS, f.event_reasons(d, &u64));
    acc += (unsigned long long)r + u64;
    if (r == NVML_SUCCESS) ROW_SET(row, R_CLOCK_EVENT_REASONS, u64);
    if (g_gpu[i].ecc_on) {
        CALL(C_ECC, f.ecc_errors(d, 0 /* CORRECTED */, 0 /* VOLATILE */, &u64));
        acc += (unsigned long long)r + u64;
        if (r == NVML_SUCCESS) ROW_SET(row, R_ECC_CORRECTED, u64);
        CALL(C_ECC, f.ecc_errors(d, 1 /* UNCORRECTED */, 0 /* VOLATILE */, &u64));
        acc += (unsigned long long)r + u64;
        if (r == NVML_SUCCESS) ROW_SET(row, R_ECC_UNCORRECTED, u64);
    }
    CALL(C_ENCODER, f.encoder(d, &a, &b));
    acc += (unsigned long long)r + a + b;
    if (r == NVML_SUCCESS) ROW_SET(row, R_ENCODER_UTILIZATION, a);
    CALL(C_DECODER, f.decoder(d, &a, &b));
    acc += (unsigned long long)r + a + b;
    if (r == NVML_SUCCESS) ROW_SET(row, R_DECODER_UTILIZATION, a);
    CALL(C_PCIE_GEN, f.pcie_gen(d, &u32));
    acc += (unsigned long long)r + u32;
    if (r == NVML_SUCCESS) ROW_SET(row, R_PCIE_LINK_GENERATION, u32);
    CALL(C_PCIE_WIDTH, f.pcie_width(d, &u32));
    acc += (unsigned long long)r + u32;
    if (r == NVML_SUCCESS) ROW_SET(row, R_PCIE_LINK_WIDTH, u32);
    if (f.pcie_throughput) {
        for (k = 0; k < 2; k++) { /* NVML_PCIE_UTIL_TX_BYTES, _RX_BYTES: KB/s */
            CALL(C_PCIE_THROUGHPUT, f.pcie_throughput(d, (int)k, &u32));
            acc += (unsigned long long)r + u32;
            if (r == NVML_SUCCESS) ROW_SET(row, R_PCIE_TX_THROUGHPUT + (int)k, u32);
        }
    }
    if (f.remapped_rows) {
        unsigned int corrected, uncorrected, pending, failed;
        CALL(C_REMAPPED, f.remapped_rows(d, &corrected, &uncorrected, &pending, &failed));
        acc += (unsigned long long)r + corrected + uncorrected + pending + failed;
    }

    for (k = 0; k < 2; k++) {
        unsigned int e;
        n = PROC_CAPACITY;
        CALL(k == 0 ? C_COMPUTE : C_GRAPHICS, (k == 0 ? f.compute : f.graphics)(d, &n, g_proc_buf));
        acc += (unsigned long long)r;
        if (r != NVML_SUCCESS) continue;
        for (e = 0; e < n; e++) {
            const unsigned char *at = g_proc_buf + (size_t)e * (size_t)process_stride;
            unsigned int pid;
            unsigned long long used;
            memcpy(&pid, at, sizeof pid);
            memcpy(&used, at + 8, sizeof used);
            acc += pid + used;
        }
    }
    return acc;
}

/*
 * Loads the library at `library`, binds every function with the binding's preference
 * order, inits, and reads each usable GPU's handle and static identity once. Returns
 * the number of usable GPUs, or -1 after saying why on stderr.
 */
static int nvml_open(const char *library) {
    const char *init_name, *count_name, *memory_name, *compute_name;
    char driver[96] = "";
    unsigned int gpus = 0, i;
    nvmlReturn_t r;

    g_lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!g_lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return -1;
    }

    RESOLVE(init, fn_void, "nvmlInit_v2", "nvmlInit");
    init_name = g_resolved;
    RESOLVE(shutdown, fn_void, "nvmlShutdown");
    RESOLVE(count, fn_uptr, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    count_name = g_resolved;
    RESOLVE(handle, fn_handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    RESOLVE(driver_version, fn_str, "nvmlSystemGetDriverVersion");
    RESOLVE(uuid, fn_dev_str, "nvmlDeviceGetUUID");
    RESOLVE(name, fn_dev_str, "nvmlDeviceGetName");
    RESOLVE(serial, fn_dev_str, "nvmlDeviceGetSerial");
    RESOLVE(pci, fn_dev_ptr, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo");
    RESOLVE(memory, fn_dev_ptr, "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo");
    memory_name = g_resolved;
    RESOLVE(utilization, fn_dev_ptr, "nvmlDeviceGetUtilizationRates");
    RESOLVE(temperature, fn_dev_int_u32, "nvmlDeviceGetTemperature");
    RESOLVE(num_fans, fn_dev_u32, "nvmlDeviceGetNumFans");
    RESOLVE(fan_speed, fn_dev_idx_u32, "nvmlDeviceGetFanSpeed_v2");
    RESOLVE(fan_speed_v1, fn_dev_u32, "nvmlDeviceGetFanSpeed");
    RESOLVE(power, fn_dev_u32, "nvmlDeviceGetPowerUsage");
    RESOLVE(enforced_limit, fn_dev_u32, "nvmlDeviceGetEnforcedPowerLimit");
    RESOLVE(energy, fn_dev_u64, "nvmlDeviceGetTotalEnergyConsumption");
    RESOLVE(clock, fn_dev_int_u32, "nvmlDeviceGetClockInfo");
    RESOLVE(pstate, fn_dev_ptr, "nvmlDeviceGetPerformanceState");
    RESOLVE(event_reasons, fn_dev_u64, "nvmlDeviceGetCurrentClocksEventReasons",
            "nvmlDeviceGetCurrentClocksThrottleReasons");
    RESOLVE(ecc_mode, fn_dev_2int, "nvmlDeviceGetEccMode");
    RESOLVE(ecc_errors, fn_ecc, "nvmlDeviceGetTotalEccErrors");
    RESOLVE(encoder, fn_dev_2u32, "nvmlDeviceGetEncoderUtilization");
    RESOLVE(decoder, fn_dev_2u32, "nvmlDeviceGetDecoderUtilization");
    RESOLVE(pcie_gen, fn_dev_u32, "nvmlDeviceGetCurrPcieLinkGeneration");
    RESOLVE(pcie_width, fn_dev_u32, "nvmlDeviceGetCurrPcieLinkWidth");
    RESOLVE(pcie_throughput, fn_dev_int_u32, "nvmlDeviceGetPcieThroughput"); /* optional: the binding binds it alone */
    RESOLVE(remapped_rows, fn_dev_4u32, "nvmlDeviceGetRemappedRows"); /* optional: absent before driver 450 */
    RESOLVE(compute, fn_procs, "nvmlDeviceGetComputeRunningProcesses_v3",
            "nvmlDeviceGetComputeRunningProcesses_v2", "nvmlDeviceGetComputeRunningProcesses");
    compute_name = g_resolved;
    RESOLVE(graphics, fn_procs, "nvmlDeviceGetGraphicsRunningProcesses_v3",
            "nvmlDeviceGetGraphicsRunningProcesses_v2", "nvmlDeviceGetGraphicsRunningProcesses");

    /* The calls a sample cannot do without. */
    if (!f.init || !f.shutdown || !f.count || !f.handle || !f.memory || !f.utilization || !f.temperature ||
        !f.power || !f.enforced_limit || !f.clock || !f.pstate || !f.event_reasons || !f.ecc_mode ||
        !f.ecc_errors || !f.encoder || !f.decoder || !f.pcie_gen || !f.pcie_width || !f.compute || !f.graphics ||
        !f.uuid || !f.name || !f.serial || !f.pci || !f.driver_version) {
        fprintf(stderr, "the library lacks a function a sample needs\n");
        return -1;
    }
    if (!f.num_fans) f.fan_speed = NULL; /* FanSpeed_v2 is only usable with NumFans */
    memory_v2 = strcmp(memory_name, "nvmlDeviceGetMemoryInfo_v2") == 0;

    r = f.init();
    if (r != NVML_SUCCESS) {
        fprintf(stderr, "%s failed: %d\n", init_name, r);
        return -1;
    }
    if (f.driver_version(driver, sizeof driver) != NVML_SUCCESS) driver[0] = '\0';
    /* Entry stride of the process list, as the binding decides it. */
    if (strstr(compute_name, "_v3")) {
        unsigned int major = 0, minor = 0;
        process_stride = 24;
        if (sscanf(driver, "%u.%u", &major, &minor) == 2 && major == 535 && minor >= 43 && minor <= 86)
            process_stride = 32;
    } else {
        process_stride = strstr(compute_name, "_v2") ? 24 : 16;
    }

    r = f.count(&gpus);
    if (r != NVML_SUCCESS) {
        fprintf(stderr, "%s failed: %d\n", count_name, r);
        return -1;
    }
    if (gpus > MAX_GPUS) gpus = MAX_GPUS;
    {
        unsigned int usable = 0;
        for (i = 0; i < gpus; i++) {
            char text[96];
            unsigned char pci[sizeof(pci_v3_t) > sizeof(pci_legacy_t) ? sizeof(pci_v3_t) : sizeof(pci_legacy_t)];
            int current = 0, pending = 0;
            nvmlDevice_t d;
            if (f.handle(i, &d) != NVML_SUCCESS) continue; /* skipped, as the agent does */
            g_gpu[usable].handle = d;
            /* Static identity, read once. */
            if (f.uuid(d, g_gpu[usable].uuid, sizeof g_gpu[usable].uuid) != NVML_SUCCESS)
                snprintf(g_gpu[usable].uuid, sizeof g_gpu[usable].uuid, "GPU %u", i);
            g_sink += (unsigned long long)f.name(d, text, sizeof text) + (unsigned char)text[0];
            g_sink += (unsigned long long)f.serial(d, text, sizeof text) + (unsigned char)text[0];
            g_sink += (unsigned long long)f.pci(d, pci) + pci[0];
            g_gpu[usable].fans = 0;
            g_gpu[usable].fans_known = 0;
            if (f.num_fans) {
                unsigned int fans = 0;
                if (f.num_fans(d, &fans) == NVML_SUCCESS) {
                    g_gpu[usable].fans = fans;
                    g_gpu[usable].fans_known = 1;
                }
            }
            /* as the binding: a failed mode query must not hide the counts */
            g_gpu[usable].ecc_on = !(f.ecc_mode(d, &current, &pending) == NVML_SUCCESS && current == 0);
            usable++;
        }
        gpus = usable;
    }
    if (gpus == 0) {
        fprintf(stderr, "no usable GPU\n");
        return -1;
    }
    return (int)gpus;
}

#ifndef NVML_FLOOR_NO_MAIN
int main(int argc, char **argv) {
    unsigned int gpus, i;
    int opened;
    long long iterations;
    long long it;
    double t0, t1, per_sample;
    gpu_row_t row;
    nvmlReturn_t r;

    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "--per-call") == 0)) {
        fprintf(stderr, "usage: %s <path-to-libnvidia-ml> <iterations> [--per-call]\n", argv[0]);
        return 2;
    }
    iterations = atoll(argv[2]);
    if (iterations <= 0) {
        fprintf(stderr, "iterations must be positive\n");
        return 2;
    }
    opened = nvml_open(argv[1]);
    if (opened < 0) return 1;
    gpus = (unsigned int)opened;

    /* Warm up caches and branch predictors, then time. */
    for (it = 0; it < 1000 && it < iterations; it++)
        for (i = 0; i < gpus; i++) g_sink += sample_gpu(i, &row);

    t0 = now_ns();
    for (it = 0; it < iterations; it++) {
        unsigned long long acc = 0;
        for (i = 0; i < gpus; i++) acc += sample_gpu(i, &row);
        g_sink += acc;
    }
    t1 = now_ns();

    per_sample = (t1 - t0) / (double)iterations;
    printf("{\"gpus\":%u,\"iterations\":%lld,\"ns_per_sample\":%.1f,\"ns_per_gpu_sample\":%.1f}\n", gpus, iterations,
           per_sample, per_sample / gpus);

    if (argc == 4) { /* a second pass, each call timed on its own; the timed pass above stays untouched */
        int order[C_SLOTS], s, t;
        g_profile = 1;
        for (it = 0; it < iterations; it++) {
            unsigned int counted = 0;
            CALL(C_COUNT, f.count(&counted));
            g_sink += counted;
            for (i = 0; i < gpus; i++) g_sink += sample_gpu(i, &row);
        }
        /* What the two clock reads cost by themselves, taken off every call. */
        for (it = 0; it < 10000; it++) {
            call_begin();
            call_end(C_SLOTS);
        }
        for (s = 0; s < C_SLOTS; s++) { /* a call cheaper than the clocks' jitter reads as 0 */
            g_slot_cpu[s] -= g_slot_calls[s] * (g_slot_cpu[C_SLOTS] / g_slot_calls[C_SLOTS]);
            g_slot_wall[s] -= g_slot_calls[s] * (g_slot_wall[C_SLOTS] / g_slot_calls[C_SLOTS]);
            if (g_slot_cpu[s] < 0) g_slot_cpu[s] = 0;
            if (g_slot_wall[s] < 0) g_slot_wall[s] = 0;
        }
        for (s = 0; s < C_SLOTS; s++) order[s] = s;
        for (s = 1; s < C_SLOTS; s++) /* insertion sort, most CPU first */
            for (t = s; t > 0 && g_slot_cpu[order[t]] > g_slot_cpu[order[t - 1]]; t--) {
                int swap = order[t];
                order[t] = order[t - 1];
                order[t - 1] = swap;
            }
        for (s = 0; s < C_SLOTS; s++) {
            double gpu_samples = (double)iterations * gpus;
            int slot = order[s];
            if (g_slot_calls[slot] == 0) continue;
            printf("{\"call\":\"%s\",\"calls_per_gpu_sample\":%.2f,\"cpu_ns\":%.1f,\"wall_ns\":%.1f}\n",
                   g_slot_name[slot], (double)g_slot_calls[slot] / gpu_samples, g_slot_cpu[slot] / gpu_samples,
                   g_slot_wall[slot] / gpu_samples);
        }
    }
    f.shutdown();
    return 0;
}
#endif
