"""The core's agent engine, imported only by agent provider packages: the Responses loop (:mod:`.responses`), its
model turns and tools, stored responses, and conversations (:mod:`.conversation_store`)."""
