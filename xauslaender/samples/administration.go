package samples

import (
	"github.com/xagw/xagw/xauslaender"
	x "github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

func init() {
	register(Sample{Name: "dokumentenlieferung-paket", Code: x.CodeAdministrationDokumentenlieferungPaket000040, Direction: "EV→ABH",
		Title: "Dokumentenpaket zum Antrag: das per Referenz angekündigte Dokument im Zip-Archiv (Administration.Dokumentenlieferung.Paket)",
		content: func() xsd.Message {
			archive, err := xauslaender.BuildArchive(ReferencedDocuments("antrag-erwerbstaetigkeit"))
			if err != nil {
				panic(err)
			}
			m := &x.AdministrationDokumentenlieferungPaket000040{}
			m.Dokumentcontainer = archive
			m.IdentifikationFachnachricht = x.IdentifikationNachricht{
				NachrichtenUUID:      UUID("antrag-erwerbstaetigkeit"),
				Nachrichtentyp:       x.CodeNachrichtentyp{Code: x.CodeOZGAntrag130101},
				Erstellungszeitpunkt: xsd.DateTimeOf(When),
			}
			m.Paketnummer = 1
			return m
		}})
	register(Sample{Name: "rueckweisung-synchron", Code: x.CodeAdministrationRueckweisungSynchron000002, Direction: "ABH→EV", reply: true,
		Title: "Synchrone Rückweisung (XAusländer-Fehlercodes) einer Nachricht mit ungültigem Schlüssel",
		content: func() xsd.Message {
			m := &x.AdministrationRueckweisungSynchron000002{}
			m.Rueckweisung = x.AdministrationRueckweisungSynchron000002Rueckweisung{
				Rueckweisungsgrund: []x.RueckweisungRueckweisungsgrund{{
					Grund: x.CodeFehlercodeSychron{Code: "S011"},
					GrundSpezifisch: []x.RueckweisungGrundSpezifisch{{
						Fehlerbeschreibung: xsd.Ptr("grundDesAufenthalts: Schlüssel 09 ist in der Codeliste nicht enthalten."),
					}},
				}},
				IdNachricht: &x.IdentifikationNachricht{
					NachrichtenUUID:      UUID("antrag-erwerbstaetigkeit"),
					Nachrichtentyp:       x.CodeNachrichtentyp{Code: x.CodeOZGAntrag130101},
					Erstellungszeitpunkt: xsd.DateTimeOf(When),
				},
			}
			return m
		}})
	register(Sample{Name: "sendungswiederholung", Code: x.CodeAdministrationSendungswiederholung000020, Direction: "EV→ABH",
		Title: "Wiederholte Sendung einer Rücknahme (die Originalnachricht base64-codiert)",
		content: func() xsd.Message {
			m := &x.AdministrationSendungswiederholung000020{}
			m.AusloeserUUID = xsd.Ptr(UUID("ruecknahme"))
			m.Nachrichtentyp = x.CodeNachrichtentyp{Code: x.CodeOZGRuecknahme130111}
			m.Nachricht = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<xauslaender:OZG.Ruecknahme.130111 xmlns:xauslaender="http://www.osci.de/xauslaender2611" produkt="xagw" produkthersteller="xagw project" standard="XAusländer" version="26.11">…</xauslaender:OZG.Ruecknahme.130111>
`)
			return m
		}})
	register(Sample{Name: "nichtzustaendigserklaerung", Code: x.CodeAdministrationNichtzustaendigserklaerung000030, Direction: "ABH→EV", reply: true,
		Title: "Nichtzuständigkeitserklärung mit Angabe der zuständigen Behörde",
		content: func() xsd.Message {
			m := &x.AdministrationNichtzustaendigserklaerung000030{}
			m.ZustaendigeBehoerde = &x.BehoerdeMitAnschrift{
				BehoerdeType: x.BehoerdeType{
					Verzeichnisdienst: x.CodeVerzeichnisdienstType{Code: "DVDV"},
					Kennung:           "abh:000101",
					Name:              "ZAB Regierungspräsidium Kassel",
				},
				Anschrift: &x.PostalischeInlandsanschrift{Postfach: &x.PostalischeInlandsanschriftPostfachanschrift{
					Postfach: xsd.Ptr("00 00 00"), Wohnort: "Kassel", Postleitzahl: "34117",
				}},
			}
			m.Bemerkung = xsd.Ptr("Die Antragstellerin ist nach Kassel verzogen; wir haben die Akte dorthin abgegeben.")
			return m
		}})
}
