// Node/V8 options the operator runs with, in one place: the chart's default `operator.nodeOptions`
// (NODE_OPTIONS on the operator container; test/charts/chart.test.ts keeps the two equal) and every
// operator the tests and benchmarks start (test/support/operator.ts).
//
// --max-semi-space-size: V8 grows the young generation with the allocation rate, up to 64 MiB per
// semi-space on this heap size. A mass rollout parses thousands of watch events a second, so at 10,000
// pods the young generation alone reached 128 MiB committed, a quarter of the chart's memory limit,
// while what it holds dies young (watch events replaced by their trimmed copies, rendered objects).
export const OPERATOR_NODE_OPTIONS = '--max-semi-space-size=8';
