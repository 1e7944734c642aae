import { describe, expect, test } from "bun:test";
import { check, failureScope, NvmlError, returnCodeMessage, returnCodeName } from "../../src/nvml/errors.ts";

describe("return codes", () => {
  test("every code has NVML's name", () => {
    expect(returnCodeName(0)).toBe("NVML_SUCCESS");
    expect(returnCodeName(3)).toBe("NVML_ERROR_NOT_SUPPORTED");
    expect(returnCodeName(9)).toBe("NVML_ERROR_DRIVER_NOT_LOADED");
    expect(returnCodeName(15)).toBe("NVML_ERROR_GPU_IS_LOST");
    expect(returnCodeName(18)).toBe("NVML_ERROR_LIB_RM_VERSION_MISMATCH");
    expect(returnCodeName(25)).toBe("NVML_ERROR_ARGUMENT_VERSION_MISMATCH");
    expect(returnCodeName(999)).toBe("NVML_ERROR_UNKNOWN");
  });
  test("a code NVML added after us is reported, not hidden", () => {
    expect(returnCodeName(31)).toBe("NVML_ERROR_CODE_31");
    expect(returnCodeMessage(31)).toBe("unrecognised NVML return code 31");
  });
  test("check passes success and throws a typed error otherwise", () => {
    expect(() => check(0, "nvmlInit_v2")).not.toThrow();
    try {
      check(15, "nvmlDeviceGetMemoryInfo_v2", "GPU 1");
      throw new Error("unreachable");
    } catch (error) {
      expect(error).toBeInstanceOf(NvmlError);
      const nvml = error as NvmlError;
      expect(nvml.code).toBe(15);
      expect(nvml.codeName).toBe("NVML_ERROR_GPU_IS_LOST");
      expect(nvml.message).toBe(
        "GPU 1: the GPU has fallen off the bus or is otherwise inaccessible (NVML_ERROR_GPU_IS_LOST from nvmlDeviceGetMemoryInfo_v2)",
      );
    }
  });
  test("NOT_SUPPORTED and NO_PERMISSION make a field absent; a lost GPU fails the GPU", () => {
    expect(failureScope(3)).toBe("absent");
    expect(failureScope(4)).toBe("absent");
    expect(failureScope(15)).toBe("gpu");
    expect(failureScope(9)).toBe("gpu");
    expect(failureScope(18)).toBe("gpu");
    expect(failureScope(999)).toBe("field");
    expect(failureScope(2)).toBe("field");
  });
});
