package samples

import (
	x "github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// rejected is the (deliberately invalid) message the Rückweisung sample
// returns: an application whose Nachrichtenkopf lacks the reader.
const rejected = `<?xml version="1.0" encoding="UTF-8"?>
<xauslaender:OZG.Antrag.130101 xmlns:xauslaender="http://www.osci.de/xauslaender2611" produkt="Muster" produkthersteller="Muster" standard="XAusländer" version="26.11">
  <nachrichtenkopf.g2g>…</nachrichtenkopf.g2g>
</xauslaender:OZG.Antrag.130101>
`

func init() {
	register(Sample{Name: "rueckweisung", Code: x.CodeRueckweisungAsynchron0010, Direction: "ABH→EV", reply: true,
		Title: "XInneres-Rückweisung (0010) einer nicht schemakonformen Nachricht, mit der zurückgewiesenen Nachricht",
		content: func() xsd.Message {
			m := &x.RueckweisungAsynchron0010{}
			m.Rueckweisung = x.RueckweisungTemplateAsynchron{
				Rueckweisungsgrund: []x.XirtsRueckweisungRueckweisungsgrund{{
					Grund: x.CodeFehlercodeXInneres{Code: "X001"},
					GrundSpezifisch: []x.RueckweisungGrundSpezifisch{{
						Fehlerbeschreibung: xsd.Ptr("Element 'nachrichtenkopf.g2g': Missing child element(s). Expected is ( identifikation.nachricht )."),
					}},
				}},
				Transportinformationen: &x.RueckweisungTransportinformationen{
					Sendezeitpunkt:      xsd.Ptr(xsd.DateTime("2026-03-02T09:10:00+01:00")),
					ErgaenzendeHinweise: xsd.Ptr("Die Nachricht wurde nicht verarbeitet."),
				},
				IdNachricht: &x.IdentifikationNachrichtTyp4{
					NachrichtenUUID:      UUID("rejected"),
					Nachrichtentyp:       x.CodeNachrichtentypTyp4{ListURI: "urn:de:xauslaender:codelist:nachrichtentyp", ListVersionID: "19", Code: "130101"},
					Erstellungszeitpunkt: "2026-03-02T09:09:58+01:00",
				},
				Nachricht: []byte(rejected),
			}
			return m
		}})
}
