// Event recording for controllers and agents (core/v1 Events): recorders, the correlator (rate
// limit, aggregation, counts) and the broadcaster that writes to a sink in the background.

export * from './broadcaster';
export * from './correlator';
