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
 * GPU: MemoryInfo, UtilizationRates, Temperature, FanSpeed for each fan,
 * PowerUsage, EnforcedPowerLimit, TotalEnergyConsumption, ClockInfo x3,
 * PerformanceState, ClocksEventReasons, TotalEccErrors x2 (volatile corrected
 * and uncorrected, when ECC is on), Encoder/DecoderUtilization,
 * CurrPcieLinkGeneration/Width and the compute and graphics process lists.
 * Every output is folded into a volatile accumulator so nothing is optimised
 * away. Prints one JSON line:
 *   {"gpus":8,"iterations":N,"ns_per_sample":X,"ns_per_gpu_sample":Y}
 * Linux only (dlfcn, clock_gettime).
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
typedef nvmlReturn_t (*fn_ecc)(nvmlDevice_t, int, int, unsigned long long *);
typedef nvmlReturn_t (*fn_procs)(nvmlDevice_t, unsigned int *, void *);

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
    fn_procs compute, graphics;
} f;

static struct {
    nvmlDevice_t handle;
    unsigned int fans;
    int ecc_on;
} g_gpu[MAX_GPUS];

static unsigned char g_proc_buf[PROC_CAPACITY * PROC_MAX_ENTRY] __attribute__((aligned(8)));
static volatile unsigned long long g_sink;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int memory_v2, process_stride;

static unsigned long long sample_gpu(unsigned int i) {
    nvmlDevice_t d = g_gpu[i].handle;
    unsigned long long acc = 0, u64;
    unsigned int u32, a, b, fan, n, k;
    int pstate;
    nvmlReturn_t r;

    if (memory_v2) {
        memory_v2_t m;
        m.version = MEMORY_V2_VERSION;
        r = f.memory(d, &m);
        acc += (unsigned long long)r + m.total + m.reserved + m.free + m.used;
    } else {
        memory_v1_t m;
        r = f.memory(d, &m);
        acc += (unsigned long long)r + m.total + m.free + m.used;
    }
    {
        unsigned int util[2] = {0, 0};
        r = f.utilization(d, util);
        acc += (unsigned long long)r + util[0] + util[1];
    }
    r = f.temperature(d, 0 /* NVML_TEMPERATURE_GPU */, &u32);
    acc += (unsigned long long)r + u32;
    if (f.fan_speed) {
        for (fan = 0; fan < g_gpu[i].fans; fan++) {
            r = f.fan_speed(d, fan, &u32);
            acc += (unsigned long long)r + u32;
        }
    } else if (f.fan_speed_v1 && g_gpu[i].fans) {
        r = f.fan_speed_v1(d, &u32);
        acc += (unsigned long long)r + u32;
    }
    r = f.power(d, &u32);
    acc += (unsigned long long)r + u32;
    r = f.enforced_limit(d, &u32);
    acc += (unsigned long long)r + u32;
    if (f.energy) {
        r = f.energy(d, &u64);
        acc += (unsigned long long)r + u64;
    }
    for (k = 0; k < 3; k++) { /* NVML_CLOCK_GRAPHICS, _SM, _MEM */
        r = f.clock(d, (int)k, &u32);
        acc += (unsigned long long)r + u32;
    }
    r = f.pstate(d, &pstate);
    acc += (unsigned long long)r + (unsigned int)pstate;
    r = f.event_reasons(d, &u64);
    acc += (unsigned long long)r + u64;
    if (g_gpu[i].ecc_on) {
        r = f.ecc_errors(d, 0 /* CORRECTED */, 0 /* VOLATILE */, &u64);
        acc += (unsigned long long)r + u64;
        r = f.ecc_errors(d, 1 /* UNCORRECTED */, 0 /* VOLATILE */, &u64);
        acc += (unsigned long long)r + u64;
    }
    r = f.encoder(d, &a, &b);
    acc += (unsigned long long)r + a + b;
    r = f.decoder(d, &a, &b);
    acc += (unsigned long long)r + a + b;
    r = f.pcie_gen(d, &u32);
    acc += (unsigned long long)r + u32;
    r = f.pcie_width(d, &u32);
    acc += (unsigned long long)r + u32;

    for (k = 0; k < 2; k++) {
        unsigned int e;
        n = PROC_CAPACITY;
        r = (k == 0 ? f.compute : f.graphics)(d, &n, g_proc_buf);
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

int main(int argc, char **argv) {
    const char *init_name, *count_name, *memory_name, *compute_name;
    char driver[96] = "";
    unsigned int gpus = 0, i;
    long long iterations;
    long long it;
    double t0, t1, per_sample;
    nvmlReturn_t r;

    if (argc != 3) {
        fprintf(stderr, "usage: %s <path-to-libnvidia-ml> <iterations>\n", argv[0]);
        return 2;
    }
    iterations = atoll(argv[2]);
    if (iterations <= 0) {
        fprintf(stderr, "iterations must be positive\n");
        return 2;
    }
    g_lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!g_lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
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
        return 1;
    }
    if (!f.num_fans) f.fan_speed = NULL; /* FanSpeed_v2 is only usable with NumFans */
    memory_v2 = strcmp(memory_name, "nvmlDeviceGetMemoryInfo_v2") == 0;

    r = f.init();
    if (r != NVML_SUCCESS) {
        fprintf(stderr, "%s failed: %d\n", init_name, r);
        return 1;
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
        return 1;
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
            g_sink += (unsigned long long)f.uuid(d, text, sizeof text) + (unsigned char)text[0];
            g_sink += (unsigned long long)f.name(d, text, sizeof text) + (unsigned char)text[0];
            g_sink += (unsigned long long)f.serial(d, text, sizeof text) + (unsigned char)text[0];
            g_sink += (unsigned long long)f.pci(d, pci) + pci[0];
            g_gpu[usable].fans = 0;
            if (f.num_fans) {
                unsigned int fans = 0;
                if (f.num_fans(d, &fans) == NVML_SUCCESS) g_gpu[usable].fans = fans;
            } else if (f.fan_speed_v1) {
                unsigned int speed;
                if (f.fan_speed_v1(d, &speed) == NVML_SUCCESS) g_gpu[usable].fans = 1;
            }
            g_gpu[usable].ecc_on = f.ecc_mode(d, &current, &pending) == NVML_SUCCESS && current == 1;
            usable++;
        }
        gpus = usable;
    }
    if (gpus == 0) {
        fprintf(stderr, "no usable GPU\n");
        return 1;
    }

    /* Warm up caches and branch predictors, then time. */
    for (it = 0; it < 1000 && it < iterations; it++)
        for (i = 0; i < gpus; i++) g_sink += sample_gpu(i);

    t0 = now_ns();
    for (it = 0; it < iterations; it++) {
        unsigned long long acc = 0;
        for (i = 0; i < gpus; i++) acc += sample_gpu(i);
        g_sink += acc;
    }
    t1 = now_ns();

    f.shutdown();
    per_sample = (t1 - t0) / (double)iterations;
    printf("{\"gpus\":%u,\"iterations\":%lld,\"ns_per_sample\":%.1f,\"ns_per_gpu_sample\":%.1f}\n", gpus, iterations,
           per_sample, per_sample / gpus);
    return 0;
}
