#ifndef DPONE_CKAFKA_SHIM_H
#define DPONE_CKAFKA_SHIM_H
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// rd_kafka_producev is variadic and cannot be called from Swift; this wrapper
/// produces one message (copying the payload) with an optional key.
static inline rd_kafka_resp_err_t dpone_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                                      const void *key, size_t key_len,
                                                      const void *value, size_t value_len,
                                                      void *opaque) {
    return rd_kafka_producev(rk,
                             RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_OPAQUE(opaque),
                             RD_KAFKA_V_END);
}
/// Like dpone_kafka_produce, with headers (ownership passes to librdkafka on success; NULL for
/// none) and a NULL value for a tombstone (value == NULL).
static inline rd_kafka_resp_err_t dpone_kafka_produce_headers(rd_kafka_t *rk, const char *topic, int32_t partition,
                                                              const void *key, size_t key_len,
                                                              const void *value, size_t value_len,
                                                              rd_kafka_headers_t *headers, void *opaque) {
    if (headers == NULL) {
        return dpone_kafka_produce(rk, topic, partition, key, key_len, value, value_len, opaque);
    }
    return rd_kafka_producev(rk,
                             RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_HEADERS(headers),
                             RD_KAFKA_V_OPAQUE(opaque),
                             RD_KAFKA_V_END);
}
#endif
