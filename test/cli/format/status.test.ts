import { describe, expect, test } from "bun:test";
import { gpuModels, gpuModelsLine, statusText } from "../../../src/cli/format/status.ts";

describe("GPU models in status", () => {
  test("eight GPUs of one model are one model with a count", () => {
    const models = gpuModels(Array(8).fill("NVIDIA H100 80GB HBM3"));
    expect(models).toEqual([{ name: "NVIDIA H100 80GB HBM3", count: 8 }]);
    expect(gpuModelsLine(models)).toBe("8 × NVIDIA H100 80GB HBM3");
  });

  test("mixed models keep the order they were first seen in; a model alone is named alone", () => {
    const models = gpuModels(["NVIDIA A100-SXM4-40GB", "Tesla T4", "NVIDIA A100-SXM4-40GB"]);
    expect(gpuModelsLine(models)).toBe("2 × NVIDIA A100-SXM4-40GB, Tesla T4");
  });

  test("the text report shows the count and the models, escaped", () => {
    const text = statusText({
      agent: { running: false },
      database: { file: "/var/lib/g.db", bytes: 12_400_000 },
      gpus: Array(3).fill({ uid: "GPU-x", name: "H\x1b[2J", utilization_source: "samples" }),
      gpu_models: gpuModels(Array(3).fill("H\x1b[2J")),
      healthy: true,
      problems: [],
    });
    expect(text).toContain("GPUs seen:    3 (3 × H\\x1b[2J)\n");
    expect(text).toContain("Database:     /var/lib/g.db (12.4 MB)\n");
  });
});
