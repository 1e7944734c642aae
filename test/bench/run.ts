// `npm run bench`: every benchmark, figures printed for the README's Performance section.
import { printSampling, samplingBenchmark } from "./sampling.ts";

printSampling(samplingBenchmark());
