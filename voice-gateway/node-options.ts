// Node/V8 options the gateway runs with, in one place: the operator renders them as NODE_OPTIONS on
// the gateway container and the gateway benchmark starts the gateway with them (ADR 0020).
//
// --max-semi-space-size: V8 grows the young generation with the allocation rate, up to 32 MiB per
// semi-space (64 MiB committed), which at a few hundred calls is most of a pod's memory per call
// (RSS per call 160 KiB against the raw ws echo's 90, with the same retained heap per call). What
// a relayed frame allocates dies young, so an 8 MiB semi-space costs a few cheap scavenges a second
// and keeps RSS proportional to what the calls really hold. Smaller (2 MiB) promoted the socket read
// Buffers of frames in flight: external memory per call tripled (bench: 45 against 15 KiB).
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=8';
