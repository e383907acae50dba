-- Service verification numbers: numbers the operator marks as test numbers of a service, for
-- Microsoft's verification of a launch (ACG asks six per service in production, three in a
-- lab). A mark is kept whatever later happens to the number; the core reports whether each
-- marked number is still in an account with that service and synced. Additive only.
CREATE TABLE verification_numbers (
    service           TEXT NOT NULL,
    telephone_number  TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    PRIMARY KEY (service, telephone_number)
);
